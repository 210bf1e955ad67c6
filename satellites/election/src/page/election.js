"use strict";
// The election page: reads GET /elections/<id>; texts go in through textContent.
(() => {
  const id = location.pathname.split("/").filter(Boolean)[1] || "";
  const $ = (name) => document.getElementById(name);
  const pollPages = document.querySelector('meta[name="poll-page-url"]').content;
  async function main() {
    try {
      const response = await fetch("/elections/" + encodeURIComponent(id), { headers: { accept: "application/json" } });
      const e = await response.json();
      if (!response.ok) throw new Error(e.error || "request failed");
      document.title = e.title + " · election";
      $("title").textContent = e.title;
      $("status").textContent = e.status;
      $("seats").textContent = e.seats === 1 ? "1 seat" : e.seats + " seats";
      const results = e.results;
      const elected = results ? (results.elected.length ? results.elected : results.winner ? [results.winner] : []) : [];
      for (const nominee of e.nominees) {
        const li = document.createElement("li");
        li.textContent = nominee;
        if (elected.includes(nominee)) li.className = "elected";
        $("nominees").append(li);
      }
      if (e.poll_uuid) {
        const link = document.createElement("a");
        link.id = "poll-link";
        link.href = pollPages + "/polls/" + encodeURIComponent(e.poll_uuid);
        link.textContent = e.status === "finalized" ? "The poll, its rounds and its ballots" : "The poll (voting is open)";
        $("poll").replaceChildren(link);
      } else if (e.status === "cancelled") {
        $("poll").textContent = "Cancelled: " + (e.reason || "");
      }
      if (results) {
        $("result").textContent = elected.length
          ? "Elected: " + elected.join(", ") + " (" + results.ballots + " ballots)"
          : "Tied: " + results.tied.join(", ");
        for (const t of results.tallies) {
          const li = document.createElement("li");
          li.textContent = t.option + ": " + t.votes;
          $("tallies").append(li);
        }
      }
    } catch (error) {
      $("error").textContent = error.message;
      $("error").hidden = false;
    } finally {
      document.body.dataset.ready = "true";
    }
  }
  main();
})();
