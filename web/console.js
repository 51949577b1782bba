// console.js - the status line of the placeholder console (external: the CSP allows no inline script).
fetch("/readyz").then(r => r.json()).then(j => {
  document.getElementById("status").textContent = j.ready ? "ready" : "starting (database " + j.database + ", index " + j.index + ")";
}).catch(() => { document.getElementById("status").textContent = "unreachable"; });
