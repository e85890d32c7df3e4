// Campaign editor: highlighting, line numbers, live validation (debounced, server-side),
// errors at their line, a form builder writing the same document, and the simulation panel.
(function () {
  "use strict";
  const $ = (id) => document.getElementById(id);
  const src = $("source");
  if (!src) return;
  const hl = $("highlight");
  const gutter = $("gutter");
  const fmtSel = $("format");
  const errList = $("errors");
  const dot = $("check-dot");
  const statusText = $("check-text");
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const data = JSON.parse($("builder-data").textContent);
  let errorLines = new Set(Array.from(errList.querySelectorAll("li")).map((li) => Number(li.dataset.line)));
  let timer = null;
  let seq = 0;
  let escPressed = false;

  function esc(s) {
    return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  }

  const TOKEN = /("(?:[^"\\]|\\.)*"|'(?:[^']|'')*')|((?:^|(?<=\s))#.*$)|(-?\b\d[\d_]*(?:\.\d+)?(?:[eE][+-]?\d+)?\b)|(\b(?:true|false|null|yes|no|on|off)\b)|([A-Za-z_][\w.-]*)(?=\s*:(?:\s|$))/g;

  function highlightLine(line, json) {
    let out = "";
    let last = 0;
    line.replace(TOKEN, (m, str, com, num, kw, key, offset) => {
      out += esc(line.slice(last, offset));
      last = offset + m.length;
      let cls = "";
      if (str !== undefined) {
        cls = /^\s*:/.test(line.slice(last)) ? "tok-key" : "tok-str";
      } else if (com !== undefined) {
        cls = json ? "" : "tok-com";
      } else if (num !== undefined) {
        cls = "tok-num";
      } else if (kw !== undefined) {
        cls = "tok-kw";
      } else if (key !== undefined) {
        cls = "tok-key";
      }
      out += cls ? `<span class="${cls}">${esc(m)}</span>` : esc(m);
      return m;
    });
    return out + esc(line.slice(last));
  }

  function render() {
    const json = fmtSel.value === "json";
    const lines = src.value.split("\n");
    hl.innerHTML =
      lines
        .map((l, i) => {
          const h = highlightLine(l, json) || " ";
          return errorLines.has(i + 1) ? `<span class="line-err">${h}</span>` : h;
        })
        .join("\n") + "\n";
    gutter.innerHTML = lines
      .map((_, i) => (errorLines.has(i + 1) ? `<span class="err">${i + 1}</span>` : String(i + 1)))
      .join("\n");
    syncScroll();
  }

  function syncScroll() {
    hl.scrollTop = src.scrollTop;
    hl.scrollLeft = src.scrollLeft;
    gutter.scrollTop = src.scrollTop;
  }

  function goToLine(n) {
    const lines = src.value.split("\n");
    let start = 0;
    for (let i = 0; i < n - 1 && i < lines.length; i++) start += lines[i].length + 1;
    const end = start + (lines[n - 1] || "").length;
    src.focus();
    src.setSelectionRange(start, end);
    const lineHeight = 20;
    src.scrollTop = Math.max(0, (n - 4) * lineHeight);
    syncScroll();
  }

  function showErrors(errors, warnings = []) {
    errorLines = new Set(errors.map((e) => e.line));
    errList.innerHTML = "";
    for (const e of [...errors, ...warnings.map((w) => ({ ...w, warning: true }))]) {
      const li = document.createElement("li");
      li.dataset.line = e.line;
      if (e.warning) li.className = "warning";
      const b = document.createElement("button");
      b.type = "button";
      b.dataset.line = e.line;
      b.textContent = e.warning ? `Warning, line ${e.line}` : `Line ${e.line}`;
      const code = document.createElement("code");
      code.textContent = e.path;
      li.append(b, " ", code, `: ${e.reason}`);
      errList.append(li);
    }
    render();
  }

  function setStatus(kind, text) {
    dot.className = "dot" + (kind ? " " + kind : "");
    statusText.textContent = text;
  }

  async function post(url, body) {
    const resp = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf },
      body: JSON.stringify(body),
      credentials: "same-origin",
    });
    if (resp.redirected && resp.url.includes("/auth/login")) {
      return { status: 401, body: null, signedOut: true };
    }
    let payload = null;
    try {
      payload = await resp.json();
    } catch (_) {
      payload = null;
    }
    return { status: resp.status, body: payload };
  }

  async function validate() {
    const mine = ++seq;
    setStatus("", "Checking…");
    try {
      const { status, body, signedOut } = await post(src.dataset.validateUrl, { source: src.value, format: fmtSel.value });
      if (mine !== seq) return;
      if (signedOut) {
        setStatus("bad", "Your session ended: sign in again in another tab, then keep typing");
        return;
      }
      if (!body) {
        setStatus("bad", `Could not check (HTTP ${status})`);
        return;
      }
      if (body.valid) {
        const warnings = body.warnings || [];
        showErrors([], warnings);
        const note = warnings.length ? `; ${warnings.length} warning${warnings.length === 1 ? "" : "s"}` : "";
        setStatus("ok", `Valid: “${body.name}”, ${body.type}, ${body.rules} rule${body.rules === 1 ? "" : "s"}${note}`);
      } else {
        showErrors(body.errors);
        const n = body.errors.length;
        setStatus("bad", `${n} problem${n === 1 ? "" : "s"}; first at line ${body.errors[0].line}`);
      }
    } catch (err) {
      if (mine === seq) setStatus("bad", "Could not reach the server to check");
    }
  }

  function schedule() {
    clearTimeout(timer);
    timer = setTimeout(validate, 350);
  }

  src.addEventListener("input", () => {
    render();
    schedule();
  });
  src.addEventListener("scroll", syncScroll);
  fmtSel.addEventListener("change", () => {
    render();
    validate();
  });
  src.addEventListener("keydown", (ev) => {
    if (ev.key === "Escape") {
      escPressed = true;
      return;
    }
    if (ev.key === "Tab" && !escPressed && !ev.shiftKey) {
      ev.preventDefault();
      const s = src.selectionStart;
      src.setRangeText("  ", s, src.selectionEnd, "end");
      render();
      schedule();
      return;
    }
    escPressed = false;
    if ((ev.ctrlKey || ev.metaKey) && ev.key.toLowerCase() === "s") {
      ev.preventDefault();
      $("save-form").requestSubmit();
    }
  });
  errList.addEventListener("click", (ev) => {
    const b = ev.target.closest("button[data-line]");
    if (b) goToLine(Number(b.dataset.line));
  });

  // -- tabs -------------------------------------------------------------------------------------
  const tabs = [$("tab-doc"), $("tab-build")];
  function selectTab(t) {
    for (const other of tabs) {
      const on = other === t;
      other.setAttribute("aria-selected", String(on));
      other.tabIndex = on ? 0 : -1;
      $(other.getAttribute("aria-controls")).hidden = !on;
    }
  }
  tabs.forEach((t, i) => {
    t.addEventListener("click", () => selectTab(t));
    t.addEventListener("keydown", (ev) => {
      if (ev.key === "ArrowRight" || ev.key === "ArrowLeft") {
        const next = tabs[(i + (ev.key === "ArrowRight" ? 1 : tabs.length - 1)) % tabs.length];
        selectTab(next);
        next.focus();
      }
    });
  });

  // -- form builder -----------------------------------------------------------------------------
  const conds = $("b-conds");
  const varType = Object.fromEntries(data.variables.map((v) => [v.name, v.type]));
  function opOptions(type) {
    return (data.operators[type] || []).map((o) => o.name);
  }
  function inputOf(type, op) {
    const o = (data.operators[type] || []).find((x) => x.name === op);
    return o ? o.input : "text";
  }
  let condCount = 0;
  function addCond(name, op, value) {
    const n = ++condCount;
    const row = document.createElement("div");
    row.className = "cond-row";
    const vSel = document.createElement("select");
    vSel.setAttribute("aria-label", `Condition ${n}: variable`);
    for (const v of data.variables) vSel.add(new Option(v.label, v.name));
    vSel.value = name || "amount";
    const oSel = document.createElement("select");
    oSel.setAttribute("aria-label", `Condition ${n}: operator`);
    const val = document.createElement("input");
    val.type = "text";
    val.setAttribute("aria-label", `Condition ${n}: value`);
    val.value = value === undefined ? "" : value;
    const rm = document.createElement("button");
    rm.type = "button";
    rm.className = "btn btn-small";
    rm.textContent = "Remove";
    rm.setAttribute("aria-label", `Remove condition ${n}`);
    rm.addEventListener("click", () => row.remove());
    function fillOps(keep) {
      const ops = opOptions(varType[vSel.value]);
      oSel.innerHTML = "";
      for (const o of ops) oSel.add(new Option(o.replace(/_/g, " "), o));
      if (keep && ops.includes(keep)) oSel.value = keep;
      togglerValue();
    }
    function togglerValue() {
      const input = inputOf(varType[vSel.value], oSel.value);
      val.hidden = input === "none";
      val.placeholder = /range|multiple|list/.test(input) ? "comma-separated" : "";
    }
    vSel.addEventListener("change", () => fillOps());
    oSel.addEventListener("change", togglerValue);
    fillOps(op);
    row.append(vSel, oSel, val, rm);
    conds.append(row);
  }
  $("b-add").addEventListener("click", () => addCond());
  addCond("category", "equal_to", "topup");
  addCond("amount", "greater_than_or_equal_to", "100000");
  addCond("customer_tier", "equal_to", "gold");

  const actionSel = $("b-action");
  function actionFields() {
    const a = actionSel.value;
    $("b-p1-label").textContent = a === "multiply_points" ? "Factor" : "Points";
    $("b-p2-field").hidden = a !== "award_points_per_amount";
  }
  actionSel.addEventListener("change", actionFields);
  actionFields();

  const q = (s) => JSON.stringify(String(s));
  function scalar(type, input, raw) {
    const s = raw.trim();
    if (/range/.test(input) || /multiple|list/.test(input)) {
      const parts = s.split(",").map((x) => x.trim()).filter(Boolean);
      return "[" + parts.map((p) => (type === "numeric" && p !== "" && !isNaN(Number(p)) ? p : q(p))).join(", ") + "]";
    }
    if (type === "numeric" && s !== "" && !isNaN(Number(s))) return s;
    return q(s);
  }
  function when(id) {
    const v = $(id).value;
    if (!v) return null;
    const full = v.length === 16 ? v + ":00" : v;
    return full + ($("b-tz").value || "+07:00");
  }
  $("b-write").addEventListener("click", () => {
    const lines = [`name: ${q($("b-name").value)}`, "type: earning"];
    const providers = Array.from(document.querySelectorAll('input[name="b-provider"]:checked')).map((c) => c.value);
    if (providers.length) lines.push(`providers: [${providers.join(", ")}]`);
    const s = when("b-starts");
    const e = when("b-ends");
    if (s) lines.push(`starts_at: ${q(s)}`);
    if (e) lines.push(`ends_at: ${q(e)}`);
    lines.push(`priority: ${Number($("b-priority").value) || 0}`);
    lines.push("rules:", `  - name: ${q($("b-rule").value)}`, "    conditions:", "      all:");
    const rows = conds.querySelectorAll(".cond-row");
    for (const row of rows) {
      const [vSel, oSel, val] = row.querySelectorAll("select, input");
      const type = varType[vSel.value];
      const input = inputOf(type, oSel.value);
      const value = input === "none" ? "" : `, value: ${scalar(type, input, val.value)}`;
      lines.push(`        - {name: ${vSel.value}, operator: ${oSel.value}${value}}`);
    }
    if (!rows.length) lines.push("        - {name: amount, operator: greater_than_or_equal_to, value: 0}");
    const a = actionSel.value;
    const p1 = Number($("b-p1").value) || 0;
    let params = a === "multiply_points" ? `factor: ${p1}` : `points: ${Math.round(p1)}`;
    if (a === "award_points_per_amount") params += `, per: ${Math.round(Number($("b-p2").value) || 1)}`;
    lines.push("    actions:", `      - {name: ${a}, params: {${params}}}`);
    src.value = lines.join("\n") + "\n";
    fmtSel.value = "yaml";
    selectTab(tabs[0]);
    render();
    validate();
    src.focus();
  });

  // -- simulation -------------------------------------------------------------------------------
  const out = $("sim-result");
  const simUrl = $("sim-form").dataset.url;
  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function showProblem(body, status) {
    out.innerHTML = "";
    out.append(el("h3", "", "The simulation could not run"));
    out.append(el("p", "field-error", body ? body.message : `HTTP ${status}`));
    if (body && body.errors && body.errors.length) showErrors(body.errors);
  }
  async function simulate(payload) {
    out.innerHTML = "";
    out.append(el("p", "hint", "Running…"));
    const { status, body } = await post(simUrl, { source: src.value, format: fmtSel.value, ...payload });
    if (!body || !body.ok) return showProblem(body, status);
    const r = body.result;
    out.innerHTML = "";
    if (payload.mode === "replay") {
      out.append(el("h3", "", `Last ${r.days} days`));
      const dl = el("dl", "facts");
      for (const [k, v] of [
        ["Transactions", r.transactions],
        ["Matched", r.matched],
        ["Customers", r.customers],
        ["Points", r.points],
        ["Cost", r.cost],
      ]) {
        dl.append(el("dt", "", k), el("dd", "", Number(v).toLocaleString("en")));
      }
      out.append(dl);
      if (r.difference) {
        out.append(el("h3", "", "Together with the live campaigns"));
        const diff = el("dl", "facts");
        for (const [k, v] of [
          ["Live campaigns alone", r.live.points],
          ["Live + this draft", r.combined.points],
          ["Difference (points)", r.difference.points],
          ["Difference (cost)", r.difference.cost],
          ["Customers affected", r.difference.customers],
        ]) {
          diff.append(el("dt", "", k), el("dd", "", Number(v).toLocaleString("en")));
        }
        out.append(diff);
      }
      out.append(el("p", "hint", r.note));
      return;
    }
    out.append(el("h3", "", r.applies ? "Result on the sample" : `Campaign does not apply: ${r.reason}`));
    if (r.local_time) out.append(el("p", "hint", `Evaluated at ${r.local_time}`));
    const total = (r.effects || []).reduce((n, e) => n + (e.points || 0), 0);
    out.append(el("p", r.effects && r.effects.length ? "pos" : "", `${total.toLocaleString("en")} points from ${(r.effects || []).length} effect(s)`));
    for (const rule of r.rules) {
      out.append(el("div", "rule-head", `${rule.fired ? "✔" : "✘"} Rule “${rule.name}” ${rule.fired ? "fires" : "does not fire"}`));
      const ul = el("ul", "trace");
      for (const c of rule.conditions) {
        const li = el("li");
        li.append(el("span", c.result ? "yes" : "no", c.result ? "true" : "false"));
        li.append(el("span", "mono", `${c.variable} ${c.operator} ${JSON.stringify(c.expected)}`));
        li.append(el("span", "hint", `actual: ${JSON.stringify(c.actual)}`));
        ul.append(li);
      }
      out.append(ul);
    }
  }
  $("sim-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const txn = {
      provider: $("s-provider").value,
      amount: Number($("s-amount").value) || 0,
      category: $("s-category").value || null,
      channel: $("s-channel").value || null,
      event_type: $("s-event").value || "purchase",
    };
    const tier = $("s-tier").value.trim();
    if (tier) txn.context = { customer_tier: tier };
    const when = $("s-when").value;
    if (when) txn.occurred_at = new Date(when).toISOString();
    simulate({ mode: "sample", transaction: txn });
  });
  $("sim-replay").addEventListener("click", () => simulate({ mode: "replay", days: Number($("s-days").value) || 30 }));

  render();
  if (!errList.children.length) validate();
})();
