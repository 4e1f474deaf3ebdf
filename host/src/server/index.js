// kube-shields index: live filtering, select-on-focus for embed snippets, and a mark on each
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
  for (const input of document.querySelectorAll("details input")) {
    input.addEventListener("focus", function () { input.select(); });
  }
  report();
})();
