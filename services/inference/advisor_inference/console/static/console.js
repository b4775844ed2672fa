// advisor-stack console: live refresh of job blocks and cancel buttons without a reload.
// Elements with data-refresh="URL" are re-fetched every data-every ms (their HTML replaced);
// with data-reload-when-finished the page reloads once the fetched block says it finished.
// Forms with data-async are posted with fetch (the CSRF token travels in a header).
"use strict";
(function () {
  const csrf = () => (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  const headers = { "X-Requested-With": "console" };

  function flash(message) {
    const box = document.getElementById("flash");
    if (!box) return;
    box.textContent = message;
    box.hidden = false;
  }

  async function refresh(element) {
    const url = element.getAttribute("data-refresh");
    if (!url) return;
    try {
      const response = await fetch(url, { headers, credentials: "same-origin" });
      if (response.status === 401) { window.location.assign("/ui/login?next=" + encodeURIComponent(location.pathname + location.search)); return; }
      if (!response.ok) return;
      element.innerHTML = await response.text();
      if (element.hasAttribute("data-reload-when-finished") && element.querySelector("[data-finished]")) {
        element.removeAttribute("data-refresh");
        window.location.reload();
      }
    } catch (error) {
      // The next tick tries again; a gateway restart must not break the page.
    }
  }

  function startRefreshing() {
    document.querySelectorAll("[data-refresh]").forEach((element) => {
      const every = parseInt(element.getAttribute("data-every") || "3000", 10);
      const timer = window.setInterval(() => {
        if (!element.getAttribute("data-refresh")) { window.clearInterval(timer); return; }
        if (document.visibilityState === "visible") refresh(element);
      }, every);
    });
  }

  document.addEventListener("submit", async (event) => {
    const form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-async")) return;
    event.preventDefault();
    const question = form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) return;
    const button = form.querySelector("button");
    if (button) button.disabled = true;
    try {
      const response = await fetch(form.action, {
        method: "POST", credentials: "same-origin",
        headers: { ...headers, "X-CSRF-Token": csrf(), "Content-Type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams(new FormData(form)).toString(),
      });
      if (!response.ok) {
        const body = await response.json().catch(() => ({}));
        const message = typeof body.error === "string" ? body.error : (body.error || {}).message;
        flash(message || ("The request failed (HTTP " + response.status + ")."));
      }
    } catch (error) {
      flash("The gateway did not answer; try again.");
    }
    const live = form.closest("[data-refresh]") || document.querySelector("[data-refresh]");
    if (live) refresh(live); else window.location.reload();
  });

  document.addEventListener("DOMContentLoaded", startRefreshing);
})();
