// The results page: reads /api/results, then follows /api/stream. An `update` event changes the
// shown laws' numbers at once; the list is read again (at most every 2 s) so that order and new
// laws follow. A `resync` event (first on every connection) reads the list again.
"use strict";

const PAGE = 100;
const REFRESH_MS = 2000;
const state = { q: "", limit: PAGE, rows: new Map(), loading: false, again: false, lastLoad: 0, timer: null };
const $ = (id) => document.getElementById(id);
const number = new Intl.NumberFormat();

function text(el, value) {
  if (el.textContent !== value) el.textContent = value;
}

function time(iso) {
  const t = new Date(iso);
  return isNaN(t) ? "—" : t.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
}

function pct(part, total) {
  return total > 0 ? (100 * part) / total : 0;
}

function totals(data) {
  text($("total-votes"), number.format(data.total_votes));
  text($("total-oui"), number.format(data.total_oui));
  text($("total-non"), number.format(data.total_non));
  text($("laws-count"), number.format(data.laws_count));
  const asOf = $("as-of");
  text(asOf, time(data.as_of));
  asOf.dateTime = data.as_of;
  recount(data.last_recount);
}

function recount(run) {
  const el = $("recount");
  if (!run) { el.hidden = true; return; }
  const when = new Date(run.finished_at).toLocaleString([], { dateStyle: "medium", timeStyle: "short" });
  const scope = run.law_id ? `law ${run.law_id}` : `${number.format(run.laws_checked)} laws, ${number.format(run.votes_checked)} votes`;
  el.className = "recount " + (run.agreed ? "agreed" : "differs");
  text(el, run.agreed
    ? `✓ Recount of ${when} (${scope}): the totals agree with the audit of every vote.`
    : `✗ Recount of ${when} (${scope}): ${number.format(run.differences)} law(s) differ from the audit of the votes.`);
  el.hidden = false;
}

function row(law) {
  const li = document.createElement("li");
  li.className = "law";
  li.dataset.law = law.law_id;
  const name = document.createElement("div");
  name.className = "name";
  const rank = document.createElement("span");
  rank.className = "rank";
  name.append(rank, document.createTextNode(law.law_id));
  const bar = document.createElement("div");
  bar.className = "bar";
  bar.setAttribute("role", "img");
  const oui = document.createElement("span");
  oui.className = "oui";
  const non = document.createElement("span");
  non.className = "non";
  bar.append(oui, non);
  const counts = document.createElement("div");
  counts.className = "counts";
  const ouiText = document.createElement("span");
  ouiText.className = "oui";
  const nonText = document.createElement("span");
  nonText.className = "non";
  const total = document.createElement("span");
  total.className = "total";
  counts.append(ouiText, nonText, total);
  li.append(name, bar, counts);
  return li;
}

function fill(li, law, flash) {
  const changed = li.dataset.oui !== String(law.oui) || li.dataset.non !== String(law.non);
  li.dataset.oui = law.oui;
  li.dataset.non = law.non;
  const total = law.oui + law.non;
  const [oui, non] = li.querySelectorAll(".bar span");
  oui.style.width = pct(law.oui, total) + "%";
  non.style.width = pct(law.non, total) + "%";
  li.querySelector(".bar").setAttribute("aria-label", `oui ${law.oui}, non ${law.non}`);
  const share = total > 0 ? ` · ${pct(law.oui, total).toFixed(1)}%` : "";
  const shareNon = total > 0 ? ` · ${pct(law.non, total).toFixed(1)}%` : "";
  text(li.querySelector(".counts .oui"), `Oui ${number.format(law.oui)}${share}`);
  text(li.querySelector(".counts .non"), `Non ${number.format(law.non)}${shareNon}`);
  text(li.querySelector(".counts .total"), `${number.format(total)} votes`);
  if (changed && flash) {
    li.classList.remove("flash");
    void li.offsetWidth;
    li.classList.add("flash");
  }
}

function render(data) {
  totals(data);
  const list = $("laws");
  const rows = new Map();
  data.laws.forEach((law, i) => {
    const li = state.rows.get(law.law_id) || row(law);
    text(li.querySelector(".rank"), `${data.offset + i + 1}.`);
    fill(li, law, state.rows.has(law.law_id));
    rows.set(law.law_id, li);
    if (list.children[i] !== li) list.insertBefore(li, list.children[i] || null);
  });
  while (list.children.length > data.laws.length) list.lastElementChild.remove();
  state.rows = rows;
  text($("matching"), state.q ? `${number.format(data.matching)} matching` : "");
  $("empty").hidden = data.laws.length > 0;
  $("more").hidden = data.matching <= data.laws.length;
}

async function load() {
  if (state.loading) { state.again = true; return; }
  state.loading = true;
  state.lastLoad = Date.now();
  try {
    const params = new URLSearchParams({ limit: String(Math.min(state.limit, 1000)) });
    if (state.q) params.set("q", state.q);
    const response = await fetch("/api/results?" + params, { cache: "no-store" });
    const data = await response.json();
    if (!response.ok) throw new Error(data.error || response.statusText);
    render(data);
    $("error").hidden = true;
  } catch (e) {
    text($("error"), "Cannot read the results: " + e.message);
    $("error").hidden = false;
  } finally {
    state.loading = false;
    if (state.again) { state.again = false; load(); }
  }
}

// Reads the list again soon, at most every REFRESH_MS.
function refreshSoon() {
  if (state.timer) return;
  const wait = Math.max(0, state.lastLoad + REFRESH_MS - Date.now());
  state.timer = setTimeout(() => { state.timer = null; load(); }, wait);
}

function update(data) {
  totals(data);
  for (const law of data.laws) {
    const li = state.rows.get(law.law_id);
    if (li) fill(li, law, true);
  }
  refreshSoon();
}

function live(on) {
  $("live").className = "dot " + (on ? "on" : "off");
  text($("live-text"), on ? "live" : "reconnecting…");
}

function follow() {
  const source = new EventSource("/api/stream");
  source.onopen = () => live(true);
  source.onerror = () => live(false);
  source.addEventListener("resync", () => load());
  source.addEventListener("update", (event) => update(JSON.parse(event.data)));
}

let searchTimer = null;
$("search").addEventListener("input", (event) => {
  clearTimeout(searchTimer);
  searchTimer = setTimeout(() => {
    state.q = event.target.value.trim();
    state.limit = PAGE;
    load();
  }, 200);
});
$("more").addEventListener("click", () => { state.limit += PAGE; load(); });

// "Check my vote": the receipt's status from /api/receipts, which says whether and when the
// vote was counted, never how.
$("check").addEventListener("submit", async (event) => {
  event.preventDefault();
  const receipt = $("receipt").value.trim();
  const out = $("check-result");
  if (!receipt) return;
  let message, kind;
  try {
    const response = await fetch("/api/receipts/" + encodeURIComponent(receipt));
    const body = await response.json();
    if (body.status === "counted") {
      kind = "counted";
      message = `✓ Counted: your vote on ${body.law_id} is in the totals (since ${new Date(body.counted_at).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })}).`;
    } else if (body.status === "duplicate") {
      kind = "duplicate";
      message = `Received again, not counted twice (${body.law_id}): ${body.detail}.`;
    } else if (response.status === 404) {
      kind = "pending";
      message = "Not counted yet. A vote just cast is counted within seconds; check again shortly. A receipt that stays unknown was never recorded.";
    } else {
      kind = "error";
      message = body.error || "This receipt cannot be checked.";
    }
  } catch (e) {
    kind = "error";
    message = "The check failed; try again.";
  }
  out.className = "check-result " + kind;
  out.dataset.status = kind;
  text(out, message);
  out.hidden = false;
});

load();
follow();
