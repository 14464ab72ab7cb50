"use strict";
// The dashboard reads the same API as any client: /v1/stats, /v1/orgs,
// /v1/clusters (and its figures), /v1/ip/{ip}. Text goes into the page as
// text, never HTML.

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}

async function getJSON(url) {
  const r = await fetch(url, {headers: {"Accept": "application/json"}});
  const body = await r.json().catch(() => ({error: r.statusText}));
  if (!r.ok) throw new Error(body.error || r.statusText);
  return body;
}

function bars(values) {
  const max = Math.max(1, ...values);
  const b = el("span", {class: "bars", title: values.join(", ")});
  for (const v of values) {
    const s = el("span");
    s.style.height = Math.max(1, Math.round(24 * v / max)) + "px";
    b.append(s);
  }
  return b;
}

const day = t => (t || "").slice(0, 10);

async function loadStats() {
  const st = await getJSON("/v1/stats");
  document.getElementById("status").textContent =
    `${st.probes} probes · ${day(st.first_probe)} .. ${day(st.last_probe)} · models ${st.model_version || "none yet"} · ${st.trained_periods} periods trained`;
  const starts = [...new Set(st.periods.map(p => p.start))].sort();
  const services = [...new Set(st.periods.map(p => p.service))].sort();
  const table = document.getElementById("volume");
  table.tHead.replaceChildren(el("tr", {}, el("th", {}, "week"), ...services.map(s => el("th", {}, s))));
  table.tBodies[0].replaceChildren(...starts.map(start => el("tr", {}, el("td", {}, day(start)),
    ...services.map(s => {
      const p = st.periods.find(p => p.start === start && p.service === s);
      return el("td", {class: "num"}, p ? p.probes : 0);
    }))));
}

async function loadOrgs() {
  const o = await getJSON("/v1/orgs");
  const tbody = document.querySelector("#orgs tbody");
  tbody.replaceChildren(...o.orgs.map(org => {
    const trend = o.windows.map(w => (org.trend.find(t => t.from === w.from) || {ips: 0}).ips);
    return el("tr", {"data-org": org.org}, el("td", {}, el("a", {href: `/v1/orgs/${encodeURIComponent(org.org)}/ips?format=txt`}, org.org)),
      el("td", {class: "num"}, org.ips), el("td", {class: "num"}, org.listed), el("td", {}, bars(trend)));
  }));
}

async function loadClusters() {
  const c = await getJSON("/v1/clusters");
  const div = document.getElementById("clusters");
  if (!c.services || c.services.length === 0) {
    div.replaceChildren(el("p", {}, c.note || "no still-unknown clusters"));
    return;
  }
  div.replaceChildren(...c.services.map(s => {
    const sec = el("div", {class: "service"}, el("h3", {}, `${s.service}: ${s.probes} probes from ${s.ips} IPs in ${s.k} clusters`));
    if (s.figure && s.figure.png) {
      sec.append(el("figure", {}, el("img", {src: "/v1/clusters/figures/" + encodeURIComponent(s.figure.png.split("/").pop()), alt: s.figure.title || s.service}),
        el("figcaption", {}, s.figure.title || "")));
    }
    const t = el("table", {}, el("tr", {}, el("th", {}, "cluster"), el("th", {}, "probes"), el("th", {}, "IPs"), el("th", {}, "top values")));
    for (const cl of s.clusters || []) {
      const top = (cl.fields || []).slice(0, 3)
        .map(f => `${f.field}: ${(f.top || []).slice(0, 2).map(v => `${v.value} (${v.share_pct.toFixed(0)}%)`).join(" | ")}`).join("; ");
      t.append(el("tr", {}, el("td", {}, cl.cluster), el("td", {class: "num"}, cl.probes), el("td", {class: "num"}, cl.ips), el("td", {}, top)));
    }
    sec.append(t);
    return sec;
  }));
}

// loadAbuse shows the analysis's abuse figure (abuse_by_org.png, written
// when the store holds AbuseIPDB checks); the section stays hidden without.
async function loadAbuse() {
  const url = "/v1/clusters/figures/abuse_by_org.png";
  const r = await fetch(url, {method: "HEAD"});
  if (!r.ok) return;
  document.getElementById("abuse-figure").src = url;
  document.getElementById("abuse").hidden = false;
}

function showVerdict(e) {
  const v = document.getElementById("verdict");
  const kids = [
    el("div", {}, el("span", {class: "org", id: "verdict-org"}, e.org), " ",
      el("span", {id: "verdict-class", class: "class-" + e.classification}, e.classification),
      e.classification !== "not-seen" ? ` · confidence ${e.confidence.toFixed(2)} (θ ${e.threshold.toFixed(2)})` : ""),
    el("div", {id: "verdict-ip"}, e.ip),
  ];
  if (e.probes > 0) {
    kids.push(el("div", {}, `seen ${e.first_seen.replace("T", " ").slice(0, 16)} .. ${e.last_seen.replace("T", " ").slice(0, 16)}, ${e.probes} probes, services ${e.services.join("+")}, ports ${e.ports.join(",")}`));
  }
  kids.push(el("ul", {id: "verdict-reasons"}, ...(e.reasons || []).map(r => el("li", {}, r))));
  if (e.payloads && e.payloads.length) {
    const t = el("table", {id: "verdict-payloads"}, el("tr", {}, el("th", {}, "service"), el("th", {}, "payload"), el("th", {}, "training senders"), el("th", {}, "classifier")));
    for (const p of e.payloads) {
      const senders = Object.entries(p.training_senders || {}).map(([o, n]) => `${o} ${n}`).join(", ") || (p.nearest ? "nearest: " + Object.entries(p.nearest.training_senders || {}).map(([o, n]) => `${o} ${n}`).join(", ") : "none");
      t.append(el("tr", {}, el("td", {}, p.service), el("td", {}, el("code", {}, p.summary)), el("td", {}, senders),
        el("td", {}, `${p.classifier} ${p.classifier_probability.toFixed(2)}`)));
    }
    kids.push(t);
  }
  v.replaceChildren(...kids);
  v.hidden = false;
}

document.getElementById("search").addEventListener("submit", async ev => {
  ev.preventDefault();
  const ip = document.getElementById("ip").value.trim();
  const v = document.getElementById("verdict");
  try {
    showVerdict(await getJSON("/v1/ip/" + encodeURIComponent(ip)));
    history.replaceState(null, "", "#" + ip);
  } catch (err) {
    v.replaceChildren(el("p", {class: "error", id: "verdict-error"}, err.message));
    v.hidden = false;
  }
});

for (const f of [loadStats, loadOrgs, loadClusters, loadAbuse]) {
  f().catch(err => document.getElementById("status").append(el("span", {class: "error"}, " · " + err.message)));
}
if (location.hash.length > 1) {
  document.getElementById("ip").value = decodeURIComponent(location.hash.slice(1));
  document.getElementById("search").requestSubmit();
}
