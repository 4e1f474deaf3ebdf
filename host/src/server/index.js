// kube-shields index: live filtering, the embed builder (a copy button per snippet; a style and
// label choice with a live preview that rewrites the open badge's snippets), and a mark on each
// badge image once it has loaded (data-loaded, data-width = naturalWidth) with a progress line.
// When the last badge is in, the progress line records when (data-filled-ms, and the first byte
// as data-first-byte-ms, both since navigation start) for anyone measuring the page.
// It never builds markup from text: the server renders and escapes everything.
"use strict";
(function () {
  const filter = document.getElementById("filter");
  const progress = document.getElementById("progress");
  const badges = Array.from(document.querySelectorAll("img.badge"));
  let loaded = 0;
  let failed = 0;

  function count(n, noun) {
    return n + " " + noun + (n === 1 ? "" : "s");
  }

  function report() {
    const clusters = document.querySelectorAll("section.cluster").length;
    const down = document.querySelectorAll('section.cluster[data-state="unreachable"]').length;
    progress.textContent = count(clusters, "cluster") + (down ? " (" + down + " unreachable)" : "") +
      ", " + loaded + " of " + badges.length + " badges loaded" + (failed ? ", " + failed + " failed" : "");
    progress.dataset.loaded = String(loaded);
    progress.dataset.total = String(badges.length);
    progress.dataset.failed = String(failed);
    if (loaded + failed === badges.length && !progress.dataset.filledMs) {
      const navigation = performance.getEntriesByType("navigation")[0];
      progress.dataset.filledMs = String(Math.round(performance.now()));
      if (navigation) progress.dataset.firstByteMs = String(Math.round(navigation.responseStart));
    }
  }

  function mark(img) {
    if (img.dataset.loaded) return;
    if (img.naturalWidth > 0) {
      img.dataset.loaded = "1";
      img.dataset.width = String(img.naturalWidth);
      loaded += 1;
    } else {
      img.dataset.loaded = "0";
      failed += 1;
    }
    report();
  }

  for (const img of badges) {
    if (img.complete) {
      mark(img);
    } else {
      img.addEventListener("load", function () { mark(img); });
      img.addEventListener("error", function () { mark(img); });
    }
  }

  function apply() {
    const words = filter.value.trim().toLowerCase().split(/\s+/).filter(Boolean);
    for (const row of document.querySelectorAll("tr.service")) {
      const text = row.dataset.search || "";
      row.hidden = !words.every(function (word) { return text.includes(word); });
    }
    for (const group of document.querySelectorAll("section.namespace")) {
      group.hidden = group.querySelector("tr.service:not([hidden])") === null;
    }
    // Each reachable cluster's count says what the filter leaves of it.
    for (const cluster of document.querySelectorAll('section.cluster[data-state="up"]')) {
      const state = cluster.querySelector("h2 .state");
      if (!state) continue;
      if (state.dataset.all === undefined) state.dataset.all = state.textContent;
      const rows = cluster.querySelectorAll("tr.service").length;
      const shown = cluster.querySelectorAll("tr.service:not([hidden])").length;
      state.textContent = words.length && shown !== rows
        ? shown + " of " + count(rows, "service") : state.dataset.all;
    }
  }
  filter.addEventListener("input", apply);
  // The page refreshes itself every minute (the refresh link without JavaScript), unless the
  // reader is typing a filter or the page is in the background.
  setInterval(function () {
    if (document.visibilityState === "visible" && document.activeElement !== filter &&
        !document.querySelector("details[open]")) {
      window.location.reload();
    }
  }, 60000);
  embedBuilder();
  report();

  // The embed builder. The server renders every badge's snippets (Markdown, HTML, URL,
  // reStructuredText, AsciiDoc) as selectable text in a <details>; here one builder moves into
  // whichever is open, adds copy buttons, and rebuilds the snippets with the chosen style and
  // label the same way the server built them (only textContent and attributes are set).
  function embedBuilder() {
    const styles = ["flat", "flat-square", "plastic", "for-the-badge", "social"];
    const builder = element("div", { class: "builder" });
    const style = element("select", { id: "embed-style" });
    for (const name of styles) style.append(element("option", { value: name }, name));
    const label = element("input", {
      id: "embed-label", type: "text", autocomplete: "off", spellcheck: "false",
      placeholder: "the check's name", maxlength: "256",
    });
    const preview = element("img", { alt: "" });
    const status = element("span", { role: "status" });
    builder.append(
      element("label", {}, "Style ", style),
      element("label", {}, "Label ", label),
      element("span", { class: "preview" }, preview), status);
    let open = null;

    function element(tag, attributes, ...children) {
      const node = document.createElement(tag);
      for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
      for (const child of children) node.append(child);
      return node;
    }
    function html(text) {
      return text.replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
    }
    function markdown(text) {
      return text.replace(/\(/g, "%28").replace(/\)/g, "%29");
    }
    // The query the choice adds to a badge URL, or "".
    function query() {
      const parts = [];
      if (style.value !== "flat") parts.push("style=" + encodeURIComponent(style.value));
      if (label.value !== "") parts.push("label=" + encodeURIComponent(label.value));
      return parts.join("&");
    }
    function update() {
      if (!open) return;
      const dl = open.querySelector("dl.snippets");
      const q = query();
      const url = dl.dataset.url + (q ? "?" + q : "");
      const name = dl.dataset.name;
      const target = open.closest("tr.service").dataset.link || "";
      const snippets = {
        "Markdown": "[![" + name + "](" + markdown(url) + ")](" + markdown(target) + ")",
        "HTML": '<a href="' + html(target) + '"><img alt="' + html(name) + '" src="' + html(url) + '"></a>',
        "URL": url,
        "reStructuredText": ".. image:: " + url + "\n   :alt: " + name + "\n   :target: " + target,
        "AsciiDoc": "image:" + url + "[" + name + ',link="' + target + '"]',
      };
      for (const dt of dl.querySelectorAll("dt")) {
        const code = dt.nextElementSibling.querySelector("code");
        if (code && Object.prototype.hasOwnProperty.call(snippets, dt.textContent)) {
          code.textContent = snippets[dt.textContent];
        }
      }
      preview.setAttribute("src", dl.dataset.path + "?format=svg" + (q ? "&" + q : ""));
      preview.setAttribute("alt", "preview: " + name);
    }
    function copy(code, format) {
      const text = code.textContent;
      const selected = function () {
        const range = document.createRange();
        range.selectNodeContents(code);
        const selection = window.getSelection();
        selection.removeAllRanges();
        selection.addRange(range);
        status.textContent = format + " selected: press Ctrl+C";
      };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(
          function () { status.textContent = format + " copied"; },
          selected);
      } else {
        selected();
      }
    }
    // The first time a panel opens: every format (a large page's panels hold the Markdown and
    // URL only), each with a copy button.
    function prepare(details) {
      const dl = details.querySelector("dl.snippets");
      if (dl.dataset.url !== undefined) return;
      const img = details.closest("figure").querySelector("img.badge");
      dl.dataset.path = new URL(img.src, document.baseURI).pathname;
      dl.dataset.name = details.querySelector("summary .vh").textContent.trim();
      for (const dt of dl.querySelectorAll("dt")) {
        if (dt.textContent === "URL") dl.dataset.url = dt.nextElementSibling.textContent;
      }
      dl.replaceChildren();
      for (const format of ["Markdown", "HTML", "URL", "reStructuredText", "AsciiDoc"]) {
        const code = element("code", {});
        const button = element("button", { type: "button" }, "copy",
          element("span", { class: "vh" }, " " + format));
        button.addEventListener("click", function () { copy(code, format); });
        dl.append(element("dt", {}, format), element("dd", {}, code, button));
      }
      const more = details.querySelector("a.more");
      if (more) more.hidden = true;
    }
    for (const details of document.querySelectorAll("details.embed")) {
      details.addEventListener("toggle", function () {
        if (details.open) {
          if (open && open !== details) open.open = false;
          prepare(details);
          open = details;
          status.textContent = "";
          details.querySelector(".panel").prepend(builder);
          update();
        } else if (open === details) {
          open = null;
        }
      });
    }
    style.addEventListener("change", update);
    label.addEventListener("input", update);
    document.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && open) {
        const details = open;
        details.open = false;
        details.querySelector("summary").focus();
      }
    });
    document.addEventListener("click", function (event) {
      if (open && !open.contains(event.target)) open.open = false;
    });
  }
})();
