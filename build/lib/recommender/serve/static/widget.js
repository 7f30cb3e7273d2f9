/* Related-news sidebar widget (recommender serve). No framework, no third-party requests.
 *
 *   <div data-related-article="ARTICLE-ID"></div>
 *   <script src="https://YOUR-SERVICE/widget.js" defer></script>
 *
 * Optional attributes on the div: data-n (items, default 5), data-heading (list heading,
 * default none), data-title-length (characters before a title is cut at a word, default 90).
 * On the script tag: data-api (the service's base url; default: where this script came from).
 * Everything from the API is inserted as text (textContent, setAttribute), never as HTML, and only
 * http(s) urls are used for links and images.
 */
(function () {
  "use strict";

  var script = document.currentScript;
  var API = ((script && script.getAttribute("data-api")) ||
    (script ? script.src.replace(/\/widget\.js([?#].*)?$/, "") : "")).replace(/\/+$/, "");
  var STYLE_ID = "rr-related-style";
  var CSS = [
    ".rr-sidebar{container-type:inline-size;font-family:system-ui,-apple-system,\"Segoe UI\",\"Noto Sans\",",
    "\"Noto Sans Bengali\",\"Hind Siliguri\",\"SolaimanLipi\",sans-serif;color:inherit;max-width:100%}",
    ".rr-heading{font-size:1.05em;font-weight:700;margin:0 0 .6em;padding-block-end:.35em;",
    "border-block-end:3px solid currentColor}",
    ".rr-list{list-style:none;margin:0;padding:0}",
    ".rr-item{margin:0 0 .9em;padding:0}",
    ".rr-link{display:flex;gap:.75em;align-items:flex-start;color:inherit;text-decoration:none}",
    ".rr-link:hover .rr-title,.rr-link:focus-visible .rr-title{text-decoration:underline}",
    ".rr-link:focus-visible{outline:2px solid #1a73e8;outline-offset:2px}",
    ".rr-thumb{flex:0 0 7.5em;width:7.5em;aspect-ratio:4/3;object-fit:cover;border-radius:4px;",
    "background:#e8e8e4;display:block}",
    ".rr-body{flex:1 1 auto;min-width:0}",
    ".rr-title{display:block;font-weight:700;line-height:1.45;font-size:1em;overflow-wrap:anywhere}",
    ".rr-snippet{margin:.25em 0 0;font-size:.9em;line-height:1.5;color:#444;display:-webkit-box;",
    "-webkit-box-orient:vertical;-webkit-line-clamp:2;line-clamp:2;overflow:hidden}",
    ".rr-meta{display:block;margin-top:.3em;font-size:.8em;color:#666}",
    ".rr-meta span+span::before{content:\" · \"}",
    "@container (max-width: 15em){.rr-link{flex-direction:column}.rr-thumb{width:100%;flex-basis:auto}}"
  ].join("");

  // Absolute http(s) urls only, as the API sends them: no javascript:, data: or relative urls.
  function safeUrl(value) {
    if (typeof value !== "string" || !/^\s*https?:\/\//i.test(value)) return null;
    try {
      var url = new URL(value.trim());
      return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
    } catch (e) {
      return null;
    }
  }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text != null) node.textContent = String(text);
    return node;
  }

  // Cut at a word boundary (Intl.Segmenter knows Bengali words), never inside a letter cluster.
  function cutAtWord(text, limit, lang) {
    text = String(text || "").trim();
    if (text.length <= limit) return text;
    var end = 0;
    var words = segmenter(lang, "word");
    if (words) {
      var segments = words.segment(text);
      for (var it = segments[Symbol.iterator](), s = it.next(); !s.done; s = it.next()) {
        var stop = s.value.index + s.value.segment.length;
        if (stop > limit) break;
        if (s.value.isWordLike) end = stop;
      }
    } else {
      end = text.lastIndexOf(" ", limit);
    }
    if (end <= 0) {  // one long word: cut between letter clusters
      var clusters = segmenter(lang, "grapheme");
      var graphemes = clusters ? Array.from(clusters.segment(text)) : [];
      end = 0;
      for (var i = 0; i < graphemes.length && graphemes[i].index + graphemes[i].segment.length <= limit; i++) {
        end = graphemes[i].index + graphemes[i].segment.length;
      }
      if (end <= 0) end = limit;
    }
    return text.slice(0, end).replace(/[\s,;:\u0964\u0965-]+$/, "") + "\u2026";
  }

  function age(iso, lang) {
    if (!iso) return null;
    var then = Date.parse(iso);
    if (isNaN(then)) return null;
    var seconds = (then - Date.now()) / 1000;
    var units = [["year", 31536000], ["month", 2592000], ["week", 604800], ["day", 86400],
      ["hour", 3600], ["minute", 60]];
    try {
      var format = new Intl.RelativeTimeFormat(lang || undefined, { numeric: "auto" });
      for (var i = 0; i < units.length; i++) {
        if (Math.abs(seconds) >= units[i][1]) return format.format(Math.round(seconds / units[i][1]), units[i][0]);
      }
      return format.format(0, "minute");
    } catch (e) {
      return iso.slice(0, 10);
    }
  }

  // A language tag as BCP 47 spells it ("bn", "en-GB"), else none: Intl throws on malformed ones.
  function languageTag(value) {
    return typeof value === "string" && /^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8}){0,3}$/.test(value) ? value : "";
  }

  function segmenter(lang, granularity) {
    try {
      return typeof Intl !== "undefined" && Intl.Segmenter
        ? new Intl.Segmenter(lang || undefined, { granularity: granularity }) : null;
    } catch (e) {
      return null;
    }
  }

  function itemNode(item, options) {
    var lang = languageTag(item.language);
    var li = el("li", "rr-item");
    if (lang) li.setAttribute("lang", lang);
    var href = safeUrl(item.url);
    var link = el(href ? "a" : "div", "rr-link");
    if (href) link.setAttribute("href", href);
    var image = safeUrl(item.image);
    if (image) {
      var img = el("img", "rr-thumb");
      img.setAttribute("src", image);
      img.setAttribute("alt", "");  // the link is named by the title beside it
      img.setAttribute("loading", "lazy");
      img.setAttribute("decoding", "async");
      img.setAttribute("width", "120");
      img.setAttribute("height", "90");
      img.addEventListener("error", function () { img.style.visibility = "hidden"; });
      link.appendChild(img);
    }
    var body = el("span", "rr-body");
    var title = el("span", "rr-title", cutAtWord(item.title, options.titleLength, lang));
    title.setAttribute("dir", "auto");
    if (String(item.title || "").length > options.titleLength) title.setAttribute("title", String(item.title));
    body.appendChild(title);
    if (item.snippet) {
      var snippet = el("span", "rr-snippet", item.snippet);
      snippet.setAttribute("dir", "auto");
      body.appendChild(snippet);
    }
    var meta = el("span", "rr-meta");
    if (item.section) meta.appendChild(el("span", "rr-section", item.section));
    var when = age(item.published_at, lang);
    if (when) {
      var time = el("time", "rr-age", when);
      time.setAttribute("datetime", String(item.published_at));
      meta.appendChild(el("span")).appendChild(time);
    }
    if (meta.childNodes.length) body.appendChild(meta);
    link.appendChild(body);
    li.appendChild(link);
    return li;
  }

  function draw(container, items) {
    var options = {
      titleLength: parseInt(container.getAttribute("data-title-length"), 10) || 90
    };
    var aside = el("aside", "rr-sidebar");
    var heading = container.getAttribute("data-heading");
    var label = heading || "Related news";
    aside.setAttribute("aria-label", label);
    if (heading) aside.appendChild(el("h2", "rr-heading", heading));
    var list = el("ol", "rr-list");
    for (var i = 0; i < items.length; i++) list.appendChild(itemNode(items[i], options));
    aside.appendChild(list);
    container.replaceChildren(aside);
    container.setAttribute("data-related-state", "done");
  }

  function addStyle() {
    if (document.getElementById(STYLE_ID)) return;
    var style = el("style", null, CSS);
    style.id = STYLE_ID;
    document.head.appendChild(style);
  }

  function render(container) {
    var id = container.getAttribute("data-related-article");
    if (!id || container.getAttribute("data-related-state")) return;
    container.setAttribute("data-related-state", "loading");
    var n = parseInt(container.getAttribute("data-n"), 10) || 5;
    var url = API + "/v1/related/" + encodeURIComponent(id) + "?n=" + Math.min(Math.max(n, 1), 50);
    fetch(url, { credentials: "omit", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.json();
      })
      .then(function (data) {
        var items = Array.isArray(data && data.items) ? data.items : [];
        if (!items.length) {  // "fewer rather than irrelevant": nothing to show, draw nothing
          container.setAttribute("data-related-state", "empty");
          return;
        }
        addStyle();
        draw(container, items);
      })
      .catch(function (error) {
        container.setAttribute("data-related-state", "failed");
        if (window.console && console.warn) console.warn("related-news widget: " + error.message);
      });
  }

  function renderAll() {
    var nodes = document.querySelectorAll("[data-related-article]");
    for (var i = 0; i < nodes.length; i++) render(nodes[i]);
  }

  window.relatedNewsWidget = { render: render, renderAll: renderAll };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", renderAll);
  else renderAll();
})();
