// palisade report: the namespace filter. Elements carry data-ns (rows, policies, findings,
// graph nodes), data-col-ns (matrix columns) or data-from-ns/data-to-ns (graph edges); an
// element is hidden (class "off") when its namespace is not selected. The selection lives in
// the URL fragment (#ns=a,b), so a filtered view can be linked and is applied on load.
"use strict";
(function () {
  var boxes = Array.prototype.slice.call(
    document.querySelectorAll("#ns-filter input[type=checkbox]"));

  function selected() {
    var on = Object.create(null);
    boxes.forEach(function (b) { if (b.checked) { on[b.value] = true; } });
    return on;
  }

  function toggle(selector, hide) {
    document.querySelectorAll(selector).forEach(function (el) {
      el.classList.toggle("off", hide(el));
    });
  }

  function apply() {
    var on = selected();
    var offNs = function (name) { return !on[name]; };
    toggle("[data-ns]", function (el) { return offNs(el.getAttribute("data-ns")); });
    toggle("[data-col-ns]", function (el) { return offNs(el.getAttribute("data-col-ns")); });
    toggle("path.edge, text.edge-label", function (el) {
      return offNs(el.getAttribute("data-from-ns")) || offNs(el.getAttribute("data-to-ns"));
    });
    var shown = document.querySelectorAll("#policies .policy:not(.off)").length;
    var counter = document.getElementById("policies-shown");
    if (counter) { counter.textContent = String(shown); }
  }

  function fromHash() {
    var match = /(?:^#|&)ns=([^&]*)/.exec(window.location.hash);
    var want = null;
    if (match) {
      want = Object.create(null);
      decodeURIComponent(match[1]).split(",").forEach(function (n) {
        if (n) { want[n] = true; }
      });
    }
    boxes.forEach(function (b) { b.checked = want === null || !!want[b.value]; });
    apply();
  }

  function toHash() {
    var names = boxes.filter(function (b) { return b.checked; })
      .map(function (b) { return encodeURIComponent(b.value); });
    var hash = names.length === boxes.length ? "" : "#ns=" + names.join(",");
    if (window.history && window.history.replaceState) {
      window.history.replaceState(null, "", window.location.pathname + window.location.search + hash);
    }
  }

  boxes.forEach(function (b) {
    b.addEventListener("change", function () { apply(); toHash(); });
  });
  var setAll = function (value) {
    return function () { boxes.forEach(function (b) { b.checked = value; }); apply(); toHash(); };
  };
  var all = document.getElementById("ns-all");
  var none = document.getElementById("ns-none");
  if (all) { all.addEventListener("click", setAll(true)); }
  if (none) { none.addEventListener("click", setAll(false)); }
  window.addEventListener("hashchange", fromHash);
  fromHash();
  document.body.setAttribute("data-filter-ready", "1");
}());
