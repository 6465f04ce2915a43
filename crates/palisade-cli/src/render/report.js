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
  // Groups of identical connectivity: a namespace's groups, pods and incoming connections
  // are built from the embedded JSON when its <details> opens (#open=ns opens it on load).
  var groupsData = document.getElementById("groups-data");
  var groups = groupsData ? JSON.parse(groupsData.textContent) : {};
  function text(tag, content, cls) {
    var el = document.createElement(tag);
    el.textContent = content;
    if (cls) { el.className = cls; }
    return el;
  }
  function fill(details) {
    var body = details.querySelector(".ns-body");
    var d = groups[details.getAttribute("data-group-ns")];
    if (!body || !d || body.getAttribute("data-filled")) { return; }
    var table = document.createElement("table");
    table.className = "lines";
    var head = document.createElement("tr");
    ["from", "to", "ports"].forEach(function (h) { head.appendChild(text("th", h)); });
    table.appendChild(head);
    d.lines.forEach(function (l) {
      var tr = document.createElement("tr");
      tr.className = "line";
      tr.setAttribute("data-from", l[0]);
      tr.setAttribute("data-to", l[2]);
      tr.setAttribute("data-ports", l[4]);
      tr.appendChild(text("td", l[0] + " (" + l[1] + ")"));
      tr.appendChild(text("td", l[2] + " (" + l[3] + ")"));
      tr.appendChild(text("td", l[4]));
      table.appendChild(tr);
    });
    body.appendChild(table);
    var list = document.createElement("ul");
    d.groups.forEach(function (g) {
      var li = document.createElement("li");
      var det = document.createElement("details");
      det.className = "group";
      det.setAttribute("data-group", g.name);
      var iso = g.isolated.length ? "isolated for " + g.isolated.join(" and ") : "not isolated";
      det.appendChild(text("summary", g.name + " (" + g.members.length + ", " + iso + ")"));
      det.appendChild(text("p", g.members.join(", "), "members"));
      li.appendChild(det);
      list.appendChild(li);
    });
    body.appendChild(list);
    body.setAttribute("data-filled", "1");
  }
  document.querySelectorAll("details.ns-groups").forEach(function (det) {
    det.addEventListener("toggle", function () { if (det.open) { fill(det); } });
  });
  var opened = /(?:^#|&)open=([^&]*)/.exec(window.location.hash);
  if (opened) {
    decodeURIComponent(opened[1]).split(",").forEach(function (n) {
      document.querySelectorAll("details.ns-groups").forEach(function (det) {
        if (det.getAttribute("data-group-ns") === n) { det.open = true; fill(det); }
      });
    });
  }

  window.addEventListener("hashchange", fromHash);
  fromHash();
  document.body.setAttribute("data-filter-ready", "1");
  // How long loading and filtering took, for the browser test at scale.
  if (window.performance && performance.now) {
    document.body.setAttribute("data-ready-ms", String(Math.round(performance.now())));
  }
}());
