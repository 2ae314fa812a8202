// tollgate dashboard client script (served from /dashboard/assets/, allowed by `script-src 'self'`).
// - Draws every <canvas data-chart="{type, labels, series}"> with Chart.js (window.Chart, the UMD
//   build tollgate serves beside this file).
// - Every 30 s fetches the same URL (so the filters in the query are kept) with
//   `x-tollgate-fragment: 1`, gets the server-rendered <main id="content"> and swaps it in: no page
//   reload, and all escaping stays on the server (no client-side templating of caller data).
// The filter form is a plain GET form with an Apply button (no submit-on-change, which would fire on
// every arrow key for keyboard users).
(function () {
  'use strict';
  var REFRESH_MS = 30000;
  var COLOURS = [
    '#2563eb',
    '#16a34a',
    '#d97706',
    '#dc2626',
    '#7c3aed',
    '#0891b2',
    '#db2777',
    '#65a30d',
    '#475569',
    '#ea580c',
  ];
  var charts = [];

  function drawCharts() {
    charts.forEach(function (c) {
      c.destroy();
    });
    charts = [];
    if (typeof window.Chart !== 'function') return;
    document.querySelectorAll('canvas[data-chart]').forEach(function (canvas) {
      var spec;
      try {
        spec = JSON.parse(canvas.getAttribute('data-chart'));
      } catch (e) {
        return;
      }
      var round = spec.type === 'doughnut';
      charts.push(
        new window.Chart(canvas, {
          type: spec.type,
          data: {
            labels: spec.labels,
            datasets: spec.series.map(function (s, i) {
              return {
                label: s.label,
                data: s.data,
                backgroundColor: round ? COLOURS : COLOURS[i % COLOURS.length],
                borderWidth: round ? 1 : 0,
              };
            }),
          },
          options: {
            animation: false,
            responsive: true,
            maintainAspectRatio: false,
            plugins: { legend: { display: round || spec.series.length > 1, position: 'bottom' } },
            scales: round ? {} : { y: { beginAtZero: true } },
          },
        }),
      );
    });
  }

  var busy = false;
  function refresh() {
    if (busy || document.hidden) return;
    busy = true;
    fetch(window.location.href, {
      headers: { 'x-tollgate-fragment': '1' },
      credentials: 'same-origin',
      cache: 'no-store',
    })
      .then(function (res) {
        if (res.status === 401) {
          window.location.assign('/dashboard/sign-in');
          return null;
        }
        return res.ok ? res.text() : null;
      })
      .then(function (html) {
        if (!html) return;
        var next = new DOMParser().parseFromString(html, 'text/html').getElementById('content');
        var current = document.getElementById('content');
        if (!next || !current) return;
        var focused = document.activeElement && document.activeElement.name;
        current.replaceWith(document.adoptNode(next));
        drawCharts();
        if (focused) {
          var again = document.querySelector('#content [name="' + CSS.escape(focused) + '"]');
          if (again) again.focus();
        }
        document.dispatchEvent(new CustomEvent('tollgate:refreshed'));
      })
      .catch(function () {
        /* offline for a moment: the next tick tries again */
      })
      .then(function () {
        busy = false;
      });
  }

  function start() {
    drawCharts();
    if (document.getElementById('content') && document.querySelector('[data-updated]'))
      window.setInterval(refresh, REFRESH_MS);
  }
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
