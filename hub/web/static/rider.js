// The rider page's only script: a waiting page asks every few seconds whether the guard
// has decided, and, where the browser can read QR codes, a "scan" button fills the code.
(function () {
  var wait = document.querySelector("[data-poll]");
  if (wait && window.fetch) {
    var url = wait.getAttribute("data-poll");
    var was = wait.getAttribute("data-decision");
    setInterval(function () {
      fetch(url, { cache: "no-store" })
        .then(function (r) { return r.json(); })
        .then(function (d) { if (d.decision && d.decision !== was) location.reload(); })
        .catch(function () {});
    }, +wait.getAttribute("data-poll-ms") || 3000);
  }
  var scan = document.getElementById("scan");
  if (!scan || !("BarcodeDetector" in window) || !navigator.mediaDevices) return;
  scan.hidden = false;
  scan.addEventListener("click", function () {
    var video = document.getElementById("camera");
    var detector = new BarcodeDetector({ formats: ["qr_code"] });
    navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } }).then(function (stream) {
      video.srcObject = stream;
      video.hidden = false;
      video.play();
      var timer = setInterval(function () {
        detector.detect(video).then(function (codes) {
          if (!codes.length) return;
          clearInterval(timer);
          stream.getTracks().forEach(function (t) { t.stop(); });
          video.hidden = true;
          document.getElementById("code").value = codes[0].rawValue;
          document.querySelector("input[name=kind][value=entry_code]").checked = true;
        }).catch(function () {});
      }, 300);
    }).catch(function () {});
  });
})();
