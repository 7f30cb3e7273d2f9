"""Every query the engine runs, in one place (the schema itself is in migrations.py).

The ranking query is the heart of the sidebar: it takes nearest-neighbour candidates with their
cosine similarity and turns them into scored rows, applying the filters and boosts that live in
DuckDB. `recommender related ID --sql` prints it.
"""

from __future__ import annotations

# Text given to the model for each article, as a SQL expression: must match embedding.article_text.
TEXT_EXPRESSIONS = {
    ("title", "body"): "a.title || chr(10) || a.body",
    ("title",): "a.title",
    ("body",): "a.body",
    ("body", "title"): "a.body || chr(10) || a.title",
}

ARTICLE_COLUMNS = "a.id, a.external_id, a.url, a.title, a.section, a.language, a.published_at"

ARTICLE_BY_EXTERNAL_ID = f"SELECT {ARTICLE_COLUMNS} FROM articles a WHERE a.external_id = ?"

# Embeddings are kept per (article, model fingerprint): a model switch leaves the old model's
# vectors in place until the new model's build is live. The articles to embed for a model: none
# stored for it, or one of another text.
PENDING_IDS = """
SELECT a.id
FROM articles a LEFT JOIN embeddings e ON e.article_id = a.id AND e.model_fingerprint = $fingerprint
WHERE e.article_id IS NULL OR e.text_hash <> sha256({text})
ORDER BY a.id
"""
# Their rows, a window or a shard at a time: the text the model reads and its hash.
TEXTS_TO_EMBED = """
SELECT a.id AS article_id, {text} AS text, sha256({text}) AS text_hash
FROM articles a WHERE a.id IN (SELECT unnest($ids)) ORDER BY a.id
"""
# Vectors a backfill wrote as Parquet, read back by DuckDB (articles removed meanwhile are skipped).
SAVE_EMBEDDINGS_FROM_PARQUET = """
INSERT OR REPLACE INTO embeddings (article_id, model_fingerprint, text_hash, vector, embedded_at)
SELECT p.article_id, $fingerprint, p.text_hash, p.vector, current_timestamp
FROM read_parquet($paths) p SEMI JOIN articles a ON a.id = p.article_id
"""

COUNT_PENDING = """
SELECT count(*)
FROM articles a LEFT JOIN embeddings e ON e.article_id = a.id AND e.model_fingerprint = $fingerprint
WHERE e.article_id IS NULL OR e.text_hash <> sha256({text})
"""

DELETE_OTHER_EMBEDDINGS = "DELETE FROM embeddings WHERE model_fingerprint <> $fingerprint RETURNING 1"

EMBEDDED_IDS = """
SELECT e.article_id FROM embeddings e JOIN articles a ON a.id = e.article_id
WHERE e.model_fingerprint = $fingerprint ORDER BY e.article_id
"""
EMBEDDED_SINCE = """
SELECT e.article_id FROM embeddings e JOIN articles a ON a.id = e.article_id
WHERE e.model_fingerprint = $fingerprint AND e.embedded_at >= CAST($since AS TIMESTAMPTZ)
"""
EMBEDDINGS_OF = """
SELECT e.article_id, e.vector FROM embeddings e
WHERE e.model_fingerprint = $fingerprint AND e.article_id IN (SELECT unnest($ids)) ORDER BY e.article_id
"""

CURRENT_EMBEDDINGS = """
SELECT e.article_id, e.vector FROM embeddings e JOIN articles a ON a.id = e.article_id
WHERE e.model_fingerprint = $fingerprint ORDER BY e.article_id
"""

# This model's vectors as they lie in storage, unsorted and unjoined (a join would put the vectors in
# its hash table): a build streams them to their rows on disk and passes over any of an article gone.
STORED_EMBEDDINGS = "SELECT article_id, vector FROM embeddings WHERE model_fingerprint = $fingerprint"

SAVE_EMBEDDINGS = """
INSERT OR REPLACE INTO embeddings (article_id, model_fingerprint, text_hash, vector, embedded_at)
SELECT article_id, $fingerprint, text_hash, vector, current_timestamp FROM incoming_embeddings
"""

# Incoming rows are classified against the store before anything is written.
CLASSIFY_INCOMING = """
SELECT
    count(*) FILTER (WHERE a.id IS NULL) AS added,
    count(*) FILTER (WHERE a.id IS NOT NULL AND ({changed})) AS updated,
    count(*) FILTER (WHERE a.id IS NOT NULL AND NOT ({changed})) AS unchanged
FROM incoming i LEFT JOIN articles a ON a.external_id = i.external_id
"""

# What a sidebar draws besides the title (migration 4); not embedded, so a change to them alone
# costs a build its snapshot, never an embedding.
RENDER_COLUMNS = ("image", "summary", "authors", "tags")

# A stored article differs from an incoming row when any of these differ (updated_at excluded:
# a CMS touching the timestamp alone is no change to the sidebar).
CHANGED_PREDICATE = " OR ".join(
    f"a.{c} IS DISTINCT FROM i.{c}"
    for c in ("url", "title", "body", "section", "language", "published_at", "content_hash", *RENDER_COLUMNS)
)

INSERT_NEW = """
INSERT INTO articles (external_id, url, title, body, section, language, published_at, updated_at,
                      content_hash, image, summary, authors, tags)
SELECT i.external_id, i.url, i.title, i.body, i.section, i.language, i.published_at,
       coalesce(i.updated_at, current_timestamp), i.content_hash, i.image, i.summary, i.authors, i.tags
FROM incoming i WHERE NOT EXISTS (SELECT 1 FROM articles a WHERE a.external_id = i.external_id)
"""

UPDATE_CHANGED = f"""
UPDATE articles a SET
    url = i.url, title = i.title, body = i.body, section = i.section, language = i.language,
    published_at = i.published_at, updated_at = coalesce(i.updated_at, current_timestamp),
    content_hash = i.content_hash, image = i.image, summary = i.summary, authors = i.authors, tags = i.tags
FROM incoming i
WHERE a.external_id = i.external_id AND ({CHANGED_PREDICATE})
"""

DELETE_EMBEDDINGS_OF = """
DELETE FROM embeddings WHERE article_id IN (SELECT id FROM articles WHERE external_id IN
    (SELECT unnest($ids)))
"""
DELETE_ARTICLES = "DELETE FROM articles WHERE external_id IN (SELECT unnest($ids))"
EXISTING_IDS = "SELECT external_id FROM articles WHERE external_id IN (SELECT unnest($ids))"

SECTIONS = """
WITH counts AS (SELECT section AS name, count(*) AS articles FROM articles
                WHERE section IS NOT NULL GROUP BY section)
SELECT coalesce(c.name, s.name) AS name, coalesce(c.articles, 0) AS articles,
       s.boost, s.half_life_days
FROM counts c FULL OUTER JOIN sections s ON s.name = c.name
ORDER BY articles DESC, name
"""

UPSERT_SECTION = """
INSERT INTO sections (name, boost, half_life_days) VALUES ($name, $boost, $half_life)
ON CONFLICT (name) DO UPDATE SET
    boost = coalesce($boost, sections.boost),
    half_life_days = coalesce($half_life, sections.half_life_days)
"""

STATS = """
SELECT
    (SELECT count(*) FROM articles) AS articles,
    (SELECT count(DISTINCT section) FROM articles) AS sections,
    (SELECT count(*) FROM articles WHERE published_at IS NULL) AS undated,
    (SELECT min(published_at) FROM articles) AS oldest,
    (SELECT max(published_at) FROM articles) AS newest
"""
LANGUAGES = "SELECT coalesce(language, '?'), count(*) FROM articles GROUP BY 1 ORDER BY 2 DESC"

# --- ranking --------------------------------------------------------------------------------
# $ids/$sims: FAISS candidates and their cosine similarity to the source article.
# relevance rescales cosine so that 0 = as alike as two random articles of this corpus and
# 1 = as alike as a republished copy; both anchors are calibrated per model at build time.
RANKING = """
WITH candidates AS (
    SELECT unnest($ids) AS id, unnest($sims) AS similarity
),
scored AS (
    SELECT
        a.id, a.external_id, a.url, a.title, a.section, a.language, a.published_at, c.similarity,
        greatest(0.0, least(1.0, (c.similarity - $sim_floor) / ($sim_ceiling - $sim_floor)))
            AS relevance,
        CASE WHEN a.published_at IS NULL THEN $undated_recency
             ELSE pow(0.5, greatest(0.0, epoch(CAST($as_of AS TIMESTAMPTZ) - a.published_at))
                          / 86400.0 / coalesce(s.half_life_days, $half_life_days))
        END AS recency,
        CASE WHEN a.section = $source_section  -- unknown sections never match
             THEN $section_weight * coalesce(own.boost, $section_boost) ELSE 0.0 END AS section_boost,
        CASE WHEN a.language IS NOT DISTINCT FROM $source_language THEN 0.0
             ELSE $cross_language_penalty END AS language_penalty
    FROM candidates c
    JOIN articles a ON a.id = c.id
    LEFT JOIN sections s ON s.name = a.section
    LEFT JOIN sections own ON own.name = $source_section
    WHERE a.id <> $source_id
      AND (a.published_at IS NULL OR a.published_at <= CAST($as_of AS TIMESTAMPTZ))
      AND ($max_age_days IS NULL
           OR epoch(CAST($as_of AS TIMESTAMPTZ) - a.published_at) <= $max_age_days * 86400)
      AND (a.section IS NULL OR NOT list_contains($exclude_sections, a.section))
      AND ($cross_language OR a.language IS NOT DISTINCT FROM $source_language)
)
SELECT *,
    $similarity_weight * relevance + $recency_weight * recency + section_boost - language_penalty
        AS score
FROM scored
ORDER BY score DESC, id
"""

# When too few good candidates remain: the newest articles of the source's own section.
FALLBACK = """
SELECT a.id, a.external_id, a.url, a.title, a.section, a.language, a.published_at
FROM articles a
WHERE a.section = $source_section
  AND a.id <> $source_id
  AND NOT list_contains($exclude_ids, a.id)
  AND a.published_at IS NOT NULL AND a.published_at <= CAST($as_of AS TIMESTAMPTZ)
  AND ($max_age_days IS NULL
       OR epoch(CAST($as_of AS TIMESTAMPTZ) - a.published_at) <= $max_age_days * 86400)
  AND (a.section IS NULL OR NOT list_contains($exclude_sections, a.section))
  AND ($cross_language OR a.language IS NOT DISTINCT FROM $source_language)
ORDER BY a.published_at DESC, a.id
LIMIT $limit
"""

TEXTS = "SELECT id, title, body FROM articles WHERE id IN (SELECT unnest($ids))"

# The catalog columns a build writes into its snapshot (index/snapshot.py): every article that
# has a vector for the model, in no order: the caller puts them in the order of the vectors
# (ascending id) once their leads have become snippets (DuckDB sorting them would hold every lead).
SNAPSHOT_ARTICLES = """
SELECT a.id, a.external_id, a.url, a.title, a.section, a.language, epoch(a.published_at) AS published,
       a.image, a.summary, left(a.body, $lead_chars) AS lead, a.authors, a.tags
FROM articles a JOIN embeddings e ON e.article_id = a.id AND e.model_fingerprint = $fingerprint
"""
# Of a build's article ids (registered as `wanted_ids`), those no longer in the store.
MISSING_IDS = "SELECT w.id FROM wanted_ids w ANTI JOIN articles a ON a.id = w.id ORDER BY w.id"
SECTION_SETTINGS = "SELECT name, boost, half_life_days, coalesce(same_section_only, false) FROM sections"

# Every article's display and ranking fields, for evaluation's baselines and metrics.
CATALOG = f"SELECT {ARTICLE_COLUMNS}, a.title || chr(10) || a.body AS text FROM articles a ORDER BY a.id"

# --- ingest staging (store/staging.py) --------------------------------------------------------
# A file's checked rows are appended to a temporary table in batches, then stored in one
# transaction: a file lands whole or not at all, and Python never holds all of its rows.
STAGE_CREATE = """
CREATE OR REPLACE TEMP TABLE staged (
    ordinal BIGINT, location VARCHAR, deleted BOOLEAN,
    external_id VARCHAR, url VARCHAR, title VARCHAR, body VARCHAR, section VARCHAR, language VARCHAR,
    published_at TIMESTAMPTZ, updated_at TIMESTAMPTZ, content_hash VARCHAR,
    image VARCHAR, summary VARCHAR, authors VARCHAR[], tags VARCHAR[]
)
"""
STAGE_SEEN_CREATE = "CREATE OR REPLACE TEMP TABLE ingest_seen (external_id VARCHAR, place VARCHAR)"
STAGE_APPEND = "INSERT INTO staged SELECT * FROM staged_batch"
# The first row of each id wins, unless an earlier file of the same ingest had the id already.
STAGE_KEEP = """
CREATE OR REPLACE TEMP TABLE kept AS
SELECT s.ordinal, s.external_id, s.location, s.deleted FROM staged s
WHERE NOT EXISTS (SELECT 1 FROM ingest_seen p WHERE p.external_id = s.external_id)
QUALIFY row_number() OVER (PARTITION BY s.external_id ORDER BY s.ordinal) = 1
"""
STAGE_REPEATS = """
SELECT s.location, s.external_id, coalesce(p.place, k.location) AS first
FROM staged s
LEFT JOIN kept k ON k.external_id = s.external_id
LEFT JOIN ingest_seen p ON p.external_id = s.external_id
WHERE k.ordinal IS DISTINCT FROM s.ordinal
ORDER BY s.ordinal
"""
STAGE_INCOMING = """
CREATE OR REPLACE TEMP VIEW incoming AS
SELECT s.external_id, s.url, s.title, s.body, s.section, s.language, s.published_at, s.updated_at,
       s.content_hash, s.image, s.summary, s.authors, s.tags
FROM staged s SEMI JOIN kept k ON k.ordinal = s.ordinal
WHERE NOT s.deleted
"""
STAGE_REMOVALS = (
    "SELECT count(*) FROM articles WHERE external_id IN (SELECT external_id FROM kept WHERE deleted)"
)
STAGE_DELETE_EMBEDDINGS = """
DELETE FROM embeddings WHERE article_id IN (SELECT id FROM articles WHERE external_id IN
    (SELECT external_id FROM kept WHERE deleted))
"""
STAGE_DELETE_ARTICLES = (
    "DELETE FROM articles WHERE external_id IN (SELECT external_id FROM kept WHERE deleted)"
)
STAGE_REMEMBER = "INSERT INTO ingest_seen SELECT external_id, $file || ':' || location FROM kept"
STAGE_DROP = "DROP VIEW IF EXISTS incoming; DROP TABLE IF EXISTS kept; DROP TABLE IF EXISTS staged"

# --- editors' controls (migration 4): by external id; '' as a block's source = every sidebar --------
UPSERT_PIN = "INSERT OR REPLACE INTO pins (source, article, position) VALUES ($source, $article, $position)"
DELETE_PIN = "DELETE FROM pins WHERE source = $source AND article = $article RETURNING article"
PINS = "SELECT source, article, position FROM pins ORDER BY source, position, article"
UPSERT_BLOCK = "INSERT OR IGNORE INTO blocks (source, article) VALUES ($source, $article)"
DELETE_BLOCK = "DELETE FROM blocks WHERE source = $source AND article = $article RETURNING article"
BLOCKS = "SELECT source, article FROM blocks ORDER BY source, article"
SET_SAME_SECTION_ONLY = """
INSERT INTO sections (name, same_section_only) VALUES ($name, $only)
ON CONFLICT (name) DO UPDATE SET same_section_only = $only
"""
