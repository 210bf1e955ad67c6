"use strict";
// The poll page: reads GET /polls/<uuid>/ and, once closed, /results; every text goes in
// through textContent.
(() => {
  const uuid = location.pathname.split("/").filter(Boolean)[1] || "";
  const base = "/polls/" + encodeURIComponent(uuid);
  const $ = (id) => document.getElementById(id);
  const el = (tag, className, text) => {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  };
  const whole = new Intl.NumberFormat("en-US");
  const fraction = new Intl.NumberFormat("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  const show = (v) => (Number.isInteger(v) ? whole.format(v) : fraction.format(v));

  async function get(url) {
    const response = await fetch(url, { headers: { accept: "application/json" } });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(body.error || "request failed (" + response.status + ")");
    return body;
  }

  function header(poll) {
    const ranked = poll.pollType === "ranked";
    document.title = (poll.title || "Poll") + " · poll";
    $("title").textContent = poll.title || "Poll " + poll.uuid;
    $("kind").textContent = ranked ? (poll.seats > 1 ? "Ranked poll · single transferable vote" : "Ranked poll · instant runoff") : "Single-choice poll";
    $("status").textContent = poll.status === "open" ? "Open" : "Closed";
    $("ballots").textContent = whole.format(poll.ballots_cast);
    $("options-count").textContent = whole.format(poll.options.length);
    if (poll.seats > 1) {
      $("seats-fact").hidden = false;
      $("seats").textContent = poll.seats;
    }
  }

  function openPoll(poll) {
    const list = $("options");
    for (const option of poll.options) list.append(el("li", "", option));
    $("open").hidden = false;
  }

  function outcome(results) {
    const line = $("outcome");
    if (results.tied.length) {
      line.classList.add("tie");
      const filled = results.elected.length ? "Elected: " + results.elected.join(", ") + ". " : "";
      line.textContent = filled + "Tied" + (results.seats > 1 ? " for the seats left: " : ": ") + results.tied.join(", ");
    } else if (results.seats > 1) {
      line.textContent = "Elected: " + results.elected.join(", ");
    } else {
      line.textContent = "Winner: " + results.winner;
    }
  }

  function chart(results) {
    const last = results.rounds[results.rounds.length - 1];
    const bars = (last ? last.tallies : results.tallies).slice().sort((a, b) => b.votes - a.votes);
    const exhausted = last ? last.exhausted : results.exhausted;
    const quota = last && last.quota;
    const top = Math.max(1, exhausted, quota || 0, ...bars.map((t) => t.votes));
    const box = $("chart");
    const row = (name, votes, className, won) => {
      box.append(el("span", "name" + (won ? " won" : ""), name));
      const track = el("span", "track");
      const fill = el("span", "fill " + className);
      fill.style.width = (100 * votes) / top + "%";
      track.append(fill);
      if (quota) {
        const mark = el("span", "quota");
        mark.style.left = (100 * quota) / top + "%";
        mark.title = "quota " + show(quota);
        track.append(mark);
      }
      box.append(track);
      const value = el("span", "value", show(votes));
      value.title = String(votes);
      box.append(value);
    };
    for (const t of bars) {
      const won = results.elected.includes(t.option);
      row(t.option, t.votes, won ? "won" : "", won);
    }
    if (results.rounds.length) row("Exhausted ballots", exhausted, "exhausted", false);
    box.setAttribute("aria-label", bars.map((t) => t.option + " " + show(t.votes)).join(", "));
    $("deciding").textContent = last ? "· final round (" + last.round + ")" : "· votes";
    $("legend").textContent = quota
      ? "Green: elected. The black line is the quota (" + show(quota) + ") a candidate needs."
      : results.rounds.length ? "Green: the winner. Exhausted ballots rank no option still in the count." : "";
  }

  function rounds(poll, results) {
    if (!results.rounds.length) {
      $("rounds-title").hidden = true;
      $("rounds-note").hidden = true;
      $("rounds").closest(".table-wrap").hidden = true;
      return;
    }
    $("rounds-note").textContent = "Each column is a round: votes, and below them what the round's transfers changed. "
      + "Red: eliminated after that round; green: elected.";
    const table = $("rounds");
    const head = el("tr");
    head.append(el("th", "", "Option"));
    for (const r of results.rounds) head.append(el("th", "", "Round " + r.round));
    const thead = el("thead");
    thead.append(head);
    table.append(thead);
    const body = el("tbody");
    table.append(body);
    const cell = (value, before) => {
      const td = el("td");
      td.append(document.createTextNode(show(value)));
      td.title = String(value);
      if (before !== undefined && before !== value) {
        const delta = value - before;
        td.append(el("span", "delta " + (delta > 0 ? "up" : "down"), (delta > 0 ? "+" : "−") + show(Math.abs(delta))));
      }
      return td;
    };
    for (const option of poll.options) {
      const tr = el("tr");
      tr.append(el("td", "", option));
      let before;
      for (const r of results.rounds) {
        const t = r.tallies.find((x) => x.option === option);
        if (!t) {
          tr.append(el("td", "gone", "—"));
          before = undefined;
          continue;
        }
        const td = cell(t.votes, before);
        if (r.eliminated.includes(option)) td.classList.add("out");
        if ((r.elected || []).includes(option)) td.classList.add("won");
        tr.append(td);
        before = t.votes;
      }
      body.append(tr);
    }
    const extra = (label, className, value) => {
      const tr = el("tr", className);
      tr.append(el("td", "", label));
      let before;
      for (const r of results.rounds) {
        tr.append(cell(value(r), before));
        before = value(r);
      }
      body.append(tr);
    };
    extra("Exhausted", "exhausted", (r) => r.exhausted);
    if (results.rounds[0].quota !== undefined) extra("Quota", "quota", (r) => r.quota);
  }

  async function main() {
    try {
      const poll = await get(base + "/");
      header(poll);
      if (poll.status === "open") return openPoll(poll);
      const closed = await get(base + "/results");
      $("abif").href = base + "/ballots?format=abif";
      $("csv").href = base + "/ballots?format=csv";
      $("json").href = base + "/results";
      outcome(closed.results);
      chart(closed.results);
      rounds(poll, closed.results);
      $("closed").hidden = false;
    } catch (error) {
      $("error").textContent = error.message;
      $("error").hidden = false;
      $("title").textContent = "Poll";
    } finally {
      document.body.dataset.ready = "true";
    }
  }
  main();
})();
