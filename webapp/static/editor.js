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
  // Every string the builder adds to the page, kept together so they can be translated later.
  const L = {
    condition: "Condition",
    variable: "variable",
    operator: "operator",
    value: "value",
    remove: "Remove",
    add: "Add",
    list: "comma-separated",
    actPercent: "Award a percent of the amount",
    percent: "Percent (0.025 = 2.5 %)",
    rounding: "Rounding",
    max: "Max points",
    optional: "optional",
    factor: "Factor",
    pointsField: "Points",
    rate: "Rate",
    rateFlat: "One rate",
    rateBands: "Bands by amount",
    rateBy: "A rate per value",
    band: "Band",
    from: "from amount",
    points: "points",
    per: "per amount",
    by: "Rate by",
    rateRow: "Rate",
    key: "value",
    ruleLimit: "Rule limit per customer",
    limit: "Campaign limit per customer",
    count: "count",
    period: "period",
    none: "none",
    expiry: "Points expiry",
    expiryDefault: "the programme's",
    months: "Months",
    funding: "Funding (percentages summing to 100)",
    funder: "Funder",
    funder_: "issuer, programme or a provider",
    share: "percent",
    control: "Control group % (experiment)",
    challenge: "Challenge",
    challengePeriod: "Challenge period",
    step: "Step",
    stepName: "name",
    addStep: "Add step",
    addCond: "Add condition",
    reward: "Challenge reward points",
  };
  const PERIODS = ["day", "week", "month", "year", "campaign"];
  const EXPIRY = ["rolling_months", "end_of_next_year", "never", "end_of_next_month", "end_of_month_after"];
  const BY = ["provider", "category", "channel", "customer_tier", "event_type", "currency", "day_of_week"];
  let uid = 0;
  function mk(tag, props = {}, ...kids) {
    const e = Object.assign(document.createElement(tag), props);
    e.append(...kids);
    return e;
  }
  function btn(text, label, onClick) {
    const b = mk("button", { type: "button", className: "btn btn-small", textContent: text });
    if (label) b.setAttribute("aria-label", label);
    b.addEventListener("click", onClick);
    return b;
  }
  function sel(options, value) {
    const s = mk("select");
    for (const [v, t] of options) s.add(new Option(t, v));
    if (value !== undefined) s.value = value;
    return s;
  }
  function num(value, attrs = {}) {
    return mk("input", { type: "number", step: "any", value: value === undefined ? "" : String(value), ...attrs });
  }
  function field(text, control) {
    if (!control.id) control.id = `bx-${++uid}`;
    return mk("div", { className: "field" }, mk("label", { htmlFor: control.id, textContent: text }), control);
  }
  function group(text, ...kids) {
    return mk("fieldset", { className: "field" }, mk("legend", {}, mk("strong", { textContent: text })), ...kids);
  }
  // A list of rows of small inputs, each labelled "<prefix> <n>: <column>", with add and remove buttons.
  function rowList(prefix, cols) {
    const list = mk("div");
    let n = 0;
    function add(vals = []) {
      const k = ++n;
      const row = mk("div", { className: "cond-row" });
      cols.forEach((c, i) => {
        const inp = mk("input", { type: c.type || "text", placeholder: c.label, value: vals[i] === undefined ? "" : String(vals[i]) });
        if (c.type === "number") inp.step = "any";
        inp.setAttribute("aria-label", `${prefix} ${k}: ${c.label}`);
        row.append(inp);
      });
      row.append(btn(L.remove, `${L.remove} ${prefix} ${k}`, () => row.remove()));
      list.append(row);
    }
    const box = mk("div", {}, list, btn(`${L.add}: ${prefix}`, null, () => add()));
    return { el: box, add, rows: () => Array.from(list.children).map((r) => Array.from(r.querySelectorAll("input"), (i) => i.value.trim())) };
  }

  const conds = $("b-conds");
  const varType = Object.fromEntries(data.variables.map((v) => [v.name, v.type]));
  function opOptions(type) {
    return (data.operators[type] || []).map((o) => o.name);
  }
  function inputOf(type, op) {
    const o = (data.operators[type] || []).find((x) => x.name === op);
    return o ? o.input : "text";
  }
  // one condition row in box; prefix names it for assistive technology ("Condition 2", "Step 1 condition 2")
  function addCond(box, prefix, name, op, value) {
    const n = (box.dataset.n = String(Number(box.dataset.n || 0) + 1));
    const row = mk("div", { className: "cond-row" });
    const vSel = sel(data.variables.map((v) => [v.name, v.label]), name || "amount");
    vSel.setAttribute("aria-label", `${prefix} ${n}: ${L.variable}`);
    const oSel = mk("select");
    oSel.setAttribute("aria-label", `${prefix} ${n}: ${L.operator}`);
    const val = mk("input", { type: "text", value: value === undefined ? "" : value });
    val.setAttribute("aria-label", `${prefix} ${n}: ${L.value}`);
    const rm = btn(L.remove, `${L.remove} ${prefix.toLowerCase()} ${n}`, () => row.remove());
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
      val.placeholder = /range|multiple|list/.test(input) ? L.list : "";
    }
    vSel.addEventListener("change", () => fillOps());
    oSel.addEventListener("change", togglerValue);
    fillOps(op);
    row.append(vSel, oSel, val, rm);
    box.append(row);
  }
  $("b-add").addEventListener("click", () => addCond(conds, L.condition));
  addCond(conds, L.condition, "category", "equal_to", "topup");
  addCond(conds, L.condition, "amount", "greater_than_or_equal_to", "100000");
  addCond(conds, L.condition, "customer_tier", "equal_to", "gold");

  // a limit per customer: count and period (an empty count: no limit)
  function limitControls(text) {
    const count = num("", { min: 1 });
    const period = sel(PERIODS.map((p) => [p, p]), "day");
    count.setAttribute("aria-label", `${text}: ${L.count}`);
    period.setAttribute("aria-label", `${text}: ${L.period}`);
    return { el: group(text, mk("div", { className: "cond-row" }, count, period)), count, period };
  }
  const ruleLimit = limitControls(L.ruleLimit);
  $("b-rule").closest(".field").after(ruleLimit.el);

  // the action and its parameters
  const actionSel = $("b-action");
  actionSel.add(new Option(L.actPercent, "award_points_percent"));
  const p1Field = $("b-p1").closest(".field");
  const percent = num("0.025", { min: 0, max: 1 });
  const rounding = sel(["down", "nearest", "up"].map((r) => [r, r]), "down");
  const maxPts = num("", { min: 1 });
  const rateMode = sel([["flat", L.rateFlat], ["bands", L.rateBands], ["by", L.rateBy]], "flat");
  const bands = rowList(L.band, [{ label: L.from, type: "number" }, { label: L.points, type: "number" }, { label: L.per, type: "number" }]);
  const bySel = sel(BY.map((b) => [b, b]), "category");
  const rates = rowList(L.rateRow, [{ label: L.key }, { label: L.points, type: "number" }, { label: L.per, type: "number" }]);
  const percentField = field(L.percent, percent);
  const rateField = field(L.rate, rateMode);
  const byField = field(L.by, bySel);
  const roundMax = mk("div", { className: "row" }, field(L.rounding, rounding), field(`${L.max} (${L.optional})`, maxPts));
  actionSel.closest(".row").after(mk("div", { className: "row" }, percentField, rateField, byField), bands.el, rates.el, roundMax);
  function actionFields() {
    const a = actionSel.value;
    const mode = rateMode.value;
    const perAmount = a === "award_points_per_amount";
    $("b-p1-label").textContent = a === "multiply_points" ? L.factor : L.pointsField;
    p1Field.hidden = a === "award_points_percent" || (perAmount && mode === "bands");
    $("b-p2-field").hidden = !perAmount || mode === "bands";
    percentField.hidden = a !== "award_points_percent";
    rateField.hidden = !perAmount;
    bands.el.hidden = !perAmount || mode !== "bands";
    byField.hidden = rates.el.hidden = !perAmount || mode !== "by";
    roundMax.hidden = !perAmount && a !== "award_points_percent";
  }
  actionSel.addEventListener("change", actionFields);
  rateMode.addEventListener("change", actionFields);
  actionFields();

  // campaign-wide: expiry, funding, limit, experiment, challenge
  const expiry = sel([["", L.expiryDefault], ...EXPIRY.map((p) => [p, p.replace(/_/g, " ")])], "");
  const expiryMonths = num("", { min: 1, max: 120 });
  const expiryMonthsField = field(L.months, expiryMonths);
  const expiryShow = () => (expiryMonthsField.hidden = !/rolling_months|end_of_month_after/.test(expiry.value));
  expiry.addEventListener("change", expiryShow);
  expiryShow();
  const funding = rowList(L.funder, [{ label: L.funder_ }, { label: L.share, type: "number" }]);
  const limit = limitControls(L.limit);
  const control = num("", { min: 1, max: 99 });
  const chPeriod = sel([["", L.none], ["month", "month"], ["week", "week"], ["campaign", "campaign"]], "");
  chPeriod.setAttribute("aria-label", L.challengePeriod);
  const steps = mk("div");
  let stepCount = 0;
  function addStep() {
    const k = ++stepCount;
    const prefix = `${L.step} ${k}`;
    const name = mk("input", { type: "text" });
    name.setAttribute("aria-label", `${prefix}: ${L.stepName}`);
    const count = num("1", { min: 1, max: 1000 });
    count.setAttribute("aria-label", `${prefix}: ${L.count}`);
    const box = mk("div", { className: "step-conds" });
    const step = group(prefix, mk("div", { className: "cond-row" }, name, count, btn(L.remove, `${L.remove} ${prefix}`, () => step.remove())), box);
    step.append(btn(L.addCond, `${L.addCond}: ${prefix}`, () => addCond(box, `${prefix} ${L.condition.toLowerCase()}`)));
    step.builder = { name, count, box };
    steps.append(step);
  }
  const reward = num("", { min: 1 });
  const chBody = mk("div", {}, steps, btn(L.addStep, null, addStep), field(L.reward, reward));
  const chShow = () => (chBody.hidden = !chPeriod.value);
  chPeriod.addEventListener("change", chShow);
  chShow();
  $("b-write").before(
    mk("div", { className: "row" }, field(L.expiry, expiry), expiryMonthsField, field(L.control, control)),
    group(L.funding, funding.el),
    limit.el,
    group(L.challenge, chPeriod, chBody),
  );

  const q = (s) => JSON.stringify(String(s));
  const n = (s) => (s !== "" && isFinite(Number(s)) ? String(Number(s)) : q(s)); // a number, or a string the validator names
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
  // the condition lines of a box at an indent; an empty box holds for every event
  function condLines(box, indent, fallback) {
    const rows = Array.from(box.children).filter((r) => r.classList.contains("cond-row"));
    if (!rows.length && !fallback) return [`${indent}conditions: {all: []}`];
    const lines = [`${indent}conditions:`, `${indent}  all:`];
    for (const row of rows) {
      const [vSel, oSel, val] = row.querySelectorAll("select, input");
      const type = varType[vSel.value];
      const input = inputOf(type, oSel.value);
      const value = input === "none" ? "" : `, value: ${scalar(type, input, val.value)}`;
      lines.push(`${indent}    - {name: ${q(vSel.value)}, operator: ${oSel.value}${value}}`.replace(/name: "([A-Za-z_][\w.]*)"/, "name: $1"));
    }
    if (!rows.length) lines.push(`${indent}    - ${fallback}`);
    return lines;
  }
  const limitText = (c) => (c.count.value.trim() ? `{per_customer: {count: ${n(c.count.value.trim())}, period: ${c.period.value}}}` : null);
  function actionParams() {
    const a = actionSel.value;
    const p1 = Number($("b-p1").value) || 0;
    const parts = [];
    if (a === "multiply_points") parts.push(`factor: ${p1}`);
    else if (a === "award_points") parts.push(`points: ${Math.round(p1)}`);
    else if (a === "award_points_percent") parts.push(`percent: ${n(percent.value.trim())}`);
    else if (rateMode.value === "bands") {
      const list = bands.rows().map(([f, p, per]) => `{from: ${n(f)}, points: ${n(p)}, per: ${n(per)}}`);
      parts.push(`bands: [${list.join(", ")}]`);
    } else {
      if (rateMode.value === "by") {
        const list = rates.rows().map(([v, p, per]) => `${q(v)}: {points: ${n(p)}, per: ${n(per)}}`);
        parts.push(`by: ${bySel.value}`, `rates: {${list.join(", ")}}`);
      }
      if (rateMode.value === "flat" || p1 > 0) parts.push(`points: ${Math.round(p1)}`, `per: ${Math.round(Number($("b-p2").value) || 1)}`);
    }
    if (a === "award_points_percent" || a === "award_points_per_amount") {
      if (rounding.value !== "down") parts.push(`rounding: ${rounding.value}`);
      if (maxPts.value.trim()) parts.push(`max: ${n(maxPts.value.trim())}`);
    }
    return parts.join(", ");
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
    if (expiry.value) {
      const m = expiryMonths.value.trim();
      const withMonths = !expiryMonthsField.hidden && (m || expiry.value === "end_of_month_after");
      lines.push(`points_expiry: ${withMonths ? `{policy: ${expiry.value}, months: ${n(m)}}` : expiry.value}`);
    }
    const funders = funding.rows().filter(([f]) => f);
    if (funders.length) lines.push(`funding: {${funders.map(([f, p]) => `${/^[a-z0-9_-]+$/.test(f) ? f : q(f)}: ${n(p)}`).join(", ")}}`);
    const lim = limitText(limit);
    if (lim) lines.push(`limits: ${lim}`);
    if (control.value.trim()) lines.push(`experiment: {control_share: ${n(control.value.trim())}}`);
    if (chPeriod.value) {
      lines.push("challenge:", `  period: ${chPeriod.value}`, "  steps:");
      for (const step of steps.children) {
        const b = step.builder;
        lines.push(`    - name: ${q(b.name.value)}`, `      count: ${n(b.count.value.trim() || "1")}`, ...condLines(b.box, "      "));
      }
      lines.push(`  reward: {award_points: ${n(reward.value.trim())}}`);
    }
    lines.push("rules:", `  - name: ${q($("b-rule").value)}`);
    const rl = limitText(ruleLimit);
    if (rl) lines.push(`    limits: ${rl}`);
    lines.push(...condLines(conds, "    ", "{name: amount, operator: greater_than_or_equal_to, value: 0}"));
    lines.push("    actions:", `      - {name: ${actionSel.value}, params: {${actionParams()}}}`);
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
