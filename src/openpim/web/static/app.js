/* OpenPIM portal: local times, time-zone offsets for date inputs, charts. No inline script:
   the pages' Content-Security-Policy allows only files from this site. */
(function () {
  "use strict";

  var dateFormat = new Intl.DateTimeFormat(undefined, {
    year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit"
  });

  function localTimes(root) {
    root.querySelectorAll("time[datetime]:not([data-local])").forEach(function (el) {
      var when = new Date(el.getAttribute("datetime"));
      if (isNaN(when.getTime())) { return; }
      el.textContent = dateFormat.format(when);
      el.setAttribute("data-local", "1");
      // The UTC text stays on hover (title was rendered by the server).
    });
  }

  function offsets(root) {
    root.querySelectorAll("input[type=datetime-local][data-offset]").forEach(function (input) {
      if (input.dataset.offsetBound) { return; }
      input.dataset.offsetBound = "1";
      var hidden = input.form && input.form.querySelector("input[name='" + input.dataset.offset + "']");
      if (!hidden) { return; }
      var update = function () {
        if (!input.value) { hidden.value = ""; return; }
        var local = new Date(input.value);
        hidden.value = isNaN(local.getTime()) ? "" : String(-local.getTimezoneOffset());
      };
      input.addEventListener("change", update);
      input.addEventListener("input", update);
      update();
    });
  }

  function charts(root) {
    if (typeof window.Chart === "undefined") { return; }
    root.querySelectorAll("canvas[data-chart]:not([data-drawn])").forEach(function (canvas) {
      var source = document.getElementById(canvas.getAttribute("data-chart"));
      if (!source) { return; }
      var config = JSON.parse(source.textContent);
      canvas.setAttribute("data-drawn", "1");
      new window.Chart(canvas, {
        type: config.type,
        data: { labels: config.labels, datasets: config.datasets },
        options: {
          responsive: true,
          maintainAspectRatio: false,
          animation: false,
          scales: {
            x: { stacked: true },
            y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } }
          },
          plugins: { legend: { position: "bottom" } }
        }
      });
    });
  }

  function init(root) {
    localTimes(root);
    offsets(root);
    charts(root);
  }

  document.addEventListener("DOMContentLoaded", function () { init(document); });
  document.addEventListener("htmx:afterSettle", function (event) {
    init(document);
    var target = event.detail && event.detail.elt;
    if (target && target.id === "main") {
      var flash = target.querySelector(".flash");
      (flash || target).setAttribute("tabindex", "-1");
      (flash || target).focus();
    }
  });
})();
