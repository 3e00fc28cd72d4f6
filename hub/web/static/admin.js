// The console's few scripts (no inline scripts: the pages' CSP allows files only).
"use strict";

// Entries per hour, drawn by the vendored Chart.js from the JSON the page carries.
function drawPerHour() {
  const canvas = document.getElementById("per-hour");
  const source = document.getElementById("per-hour-data");
  if (!canvas || !source || typeof window.Chart === "undefined") return;
  const data = JSON.parse(source.textContent);
  new window.Chart(canvas, {
    type: "bar",
    data: {
      labels: data.labels,
      datasets: [{ label: data.label, data: data.counts, backgroundColor: "#2f6fde", borderRadius: 3 }],
    },
    options: {
      animation: false,
      maintainAspectRatio: false,
      plugins: { legend: { display: false } },
      scales: { y: { beginAtZero: true, ticks: { precision: 0 } }, x: { grid: { display: false } } },
    },
  });
  canvas.dataset.rendered = String(data.counts.reduce((a, b) => a + b, 0));
}

// The guard's queue fetches its list again every few seconds. A list the guard is
// working in (a reason typed, a field focused) is left alone until they are done.
function refreshChecks() {
  const box = document.getElementById("checks");
  if (!box) return;
  const url = box.dataset.refreshUrl;
  const every = Math.max(3, Number(box.dataset.refreshS) || 10) * 1000;
  const busy = () =>
    box.contains(document.activeElement) && document.activeElement !== document.body ||
    Array.from(box.querySelectorAll("input[name=reason]")).some((input) => input.value.trim() !== "");
  async function tick() {
    try {
      const reply = await fetch(url, { headers: { "X-Last100-Poll": "1" }, credentials: "same-origin" });
      if (reply.status === 401) { window.location.reload(); return; }
      if (!reply.ok || busy()) return;
      const holder = document.createElement("div");
      holder.innerHTML = await reply.text();
      const fresh = holder.querySelector(".queue");
      const current = box.querySelector(".queue");
      if (fresh && current && fresh.dataset.ids !== current.dataset.ids) {
        current.replaceWith(fresh);
      }
      box.dataset.refreshed = String(Date.now());
    } catch (err) {
      // Offline for a moment: the next tick tries again.
    }
  }
  window.setInterval(tick, every);
}

document.addEventListener("DOMContentLoaded", () => {
  drawPerHour();
  refreshChecks();
});
