// meshgate console: live updates by Server-Sent Events from the registry's event log. No build step.
"use strict";

(function () {
  const prefix = "/ui";

  function listen(after, query, onChange) {
    const params = new URLSearchParams(query || "");
    params.set("after", after);
    const source = new EventSource(`${prefix}/events?${params}`);
    const indicator = document.querySelector("[data-live-indicator]");
    source.addEventListener("open", () => indicator && indicator.classList.add("on"));
    source.addEventListener("error", () => indicator && indicator.classList.remove("on"));
    source.addEventListener("change", (message) => onChange(JSON.parse(message.data)));
    return source;
  }

  function cell(row, text) {
    const td = document.createElement("td");
    td.textContent = text == null ? "" : String(text);
    row.appendChild(td);
    return td;
  }

  // The subject list: re-render the current page's rows when anything changes.
  const subjects = document.querySelector("[data-live-subjects]");
  if (subjects) {
    let pending = null;
    listen(subjects.dataset.after, "", () => {
      clearTimeout(pending);
      pending = setTimeout(async () => {
        const url = new URL(window.location.href);
        url.searchParams.set("fragment", "1");
        const response = await fetch(url, { credentials: "same-origin" });
        if (response.ok) document.getElementById("subject-rows").innerHTML = await response.text();
      }, 150);
    });
  }

  // The changes feed: new events on top, built with textContent (never parsed as HTML).
  const changes = document.querySelector("[data-live-changes]");
  if (changes) {
    const body = document.getElementById("change-rows");
    listen(changes.dataset.after, changes.dataset.filter, (event) => {
      const row = document.createElement("tr");
      row.className = "fresh";
      cell(row, event.sequence);
      cell(row, (event.time || "").replace("T", " ").slice(0, 19));
      cell(row, event.type);
      const subject = cell(row, "");
      if (event.subject) {
        const link = document.createElement("a");
        link.href = `${prefix}/subjects/${encodeURIComponent(event.subject)}`;
        link.textContent = event.subject;
        subject.appendChild(link);
      } else {
        subject.textContent = "(global)";
      }
      cell(row, event.version || "");
      cell(row, Object.entries(event.detail || {}).map(([k, v]) => `${k}=${v}`).join(" "));
      body.insertBefore(row, body.firstChild);
    });
  }

  // A subject's page: say so when it changes elsewhere.
  const notice = document.querySelector("[data-live-subject]");
  if (notice) {
    const params = new URLSearchParams({ subject: notice.dataset.liveSubject });
    listen(notice.dataset.after, params.toString(), () => { notice.hidden = false; });
  }
})();
