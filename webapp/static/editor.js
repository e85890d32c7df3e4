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
  // Every string the builder adds to the page: translated by the server (BUILDER_LABELS in webapp/admin/campaigns.py).
  const L = data.labels;
  const PERIODS = ["day", "week", "month", "year", "campaign"];
  const EXPIRY = ["rolling_months", "end_of_next_year", "never", "end_of_next_month", "end_of_month_after"];
  const BY = ["provider", "category", "channel", "customer_tier", "event_type", "currency", "day_of_week"].concat(
    data.variables.filter((v) => v.name.startsWith("customer.") && v.type === "string").map((v) => v.name),
  );
  const BUDGET_KEYS = ["max_points", "max_points_per_customer_per_day", "max_points_per_customer", "max_rewards"];
  const FEEDS = ["both", "spendable", "qualifying"];
  const RECIPIENTS = ["customer", "referrer", "both"];
  const POINTS_ACTIONS = ["award_points", "award_points_per_amount", "award_points_percent"];
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
    function clear() {
      list.innerHTML = "";
      n = 0;
    }
    return { el: box, add, clear, rows: () => Array.from(list.children).map((r) => Array.from(r.querySelectorAll("input"), (i) => i.value.trim())) };
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
  function clearConds(box) {
    box.querySelectorAll(":scope > .cond-row").forEach((r) => r.remove());
    box.dataset.n = "0";
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
  const feeds = sel(FEEDS.map((f) => [f, f]), "both");
  const toSel = sel(RECIPIENTS.map((r) => [r, r]), "customer");
  const feedsTo = mk("div", { className: "row" }, field(L.feeds, feeds), field(L.to, toSel));
  actionSel.closest(".row").after(mk("div", { className: "row" }, percentField, rateField, byField), bands.el, rates.el, roundMax, feedsTo);
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
    feedsTo.hidden = !POINTS_ACTIONS.includes(a);
  }
  actionSel.addEventListener("change", actionFields);
  rateMode.addEventListener("change", actionFields);
  actionFields();

  // campaign-wide: stacking, pending days, budget, expiry, funding, limit, experiment, challenge
  const stacking = sel([["stackable", "stackable"], ["exclusive", "exclusive"]], "stackable");
  const pending = num("", { min: 0, max: 365 });
  const budget = Object.fromEntries(BUDGET_KEYS.map((k) => [k, num("", { min: 1 })]));
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
    step.builder = { name, count, box, prefix };
    steps.append(step);
    return step.builder;
  }
  const rewardKind = sel([["award_points", L.rewardPoints], ["grant_reward", L.rewardGrant]], "award_points");
  const reward = num("", { min: 1 });
  const rewardCode = mk("input", { type: "text" });
  const rewardList = mk("datalist", { id: "b-reward-codes" });
  for (const code of data.rewards || []) rewardList.append(new Option(code, code));
  rewardCode.setAttribute("list", rewardList.id);
  const rewardPointsField = field(L.reward, reward);
  const rewardCodeField = field(L.rewardCode, rewardCode);
  const rewardShow = () => {
    rewardPointsField.hidden = rewardKind.value !== "award_points";
    rewardCodeField.hidden = rewardKind.value !== "grant_reward";
  };
  rewardKind.addEventListener("change", rewardShow);
  rewardShow();
  const chBody = mk(
    "div",
    {},
    steps,
    btn(L.addStep, null, addStep),
    mk("div", { className: "row" }, field(L.rewardKind, rewardKind), rewardPointsField, rewardCodeField, rewardList),
  );
  const chShow = () => (chBody.hidden = !chPeriod.value);
  chPeriod.addEventListener("change", chShow);
  chShow();
  const budgetRow = mk("div", { className: "row" }, ...Object.entries(budget).map(([k, c]) => field(L[`budget_${k}`], c)));
  $("b-write").before(
    mk("div", { className: "row" }, field(L.stacking, stacking), field(L.pending, pending)),
    group(L.budget, budgetRow),
    mk("div", { className: "row" }, field(L.expiry, expiry), expiryMonthsField, field(L.control, control)),
    group(L.funding, funding.el),
    limit.el,
    group(L.challenge, chPeriod, chBody),
  );
  // a challenge alone may reward: the rule is optional
  const withRule = mk("input", { type: "checkbox", checked: true, id: "b-with-rule" });
  $("b-rule").closest(".field").before(mk("label", { className: "inline", htmlFor: withRule.id }, withRule, " ", L.withRule));

  // -- the document as data: written by the form, read back into it ------------------------------
  const num_ = (s) => (s !== "" && isFinite(Number(s)) ? Number(s) : s); // a number, or a string the validator names
  function scalar(type, input, raw) {
    const s = raw.trim();
    if (/range/.test(input) || /multiple|list/.test(input)) {
      const parts = s.split(",").map((x) => x.trim()).filter(Boolean);
      return parts.map((p) => (type === "numeric" && !isNaN(Number(p)) ? Number(p) : p));
    }
    if (type === "numeric" && s !== "" && !isNaN(Number(s))) return Number(s);
    return s;
  }
  function when(id) {
    const v = $(id).value;
    if (!v) return undefined;
    const full = v.length === 16 ? v + ":00" : v;
    return full + ($("b-tz").value || "+07:00");
  }
  // the conditions of a box; an empty box holds for every event (or, for the rule, the fallback leaf)
  function condsOf(box, fallback) {
    const rows = Array.from(box.children).filter((r) => r.classList.contains("cond-row"));
    if (!rows.length && !fallback) return { all: [] };
    const all = rows.map((row) => {
      const [vSel, oSel, val] = row.querySelectorAll("select, input");
      const type = varType[vSel.value];
      const input = inputOf(type, oSel.value);
      const leaf = { name: vSel.value, operator: oSel.value };
      if (input !== "none") leaf.value = scalar(type, input, val.value);
      return leaf;
    });
    return { all: all.length ? all : [fallback] };
  }
  const limitOf = (c) => (c.count.value.trim() ? { per_customer: { count: num_(c.count.value.trim()), period: c.period.value } } : undefined);
  function actionOf() {
    const a = actionSel.value;
    const p1 = Number($("b-p1").value) || 0;
    const params = {};
    if (a === "multiply_points") params.factor = p1;
    else if (a === "award_points") params.points = Math.round(p1);
    else if (a === "award_points_percent") params.percent = num_(percent.value.trim());
    else if (rateMode.value === "bands") {
      params.bands = bands.rows().map(([f, p, per]) => ({ from: num_(f), points: num_(p), per: num_(per) }));
    } else {
      if (rateMode.value === "by") {
        params.by = bySel.value;
        params.rates = Object.fromEntries(rates.rows().map(([v, p, per]) => [v, { points: num_(p), per: num_(per) }]));
      }
      if (rateMode.value === "flat" || p1 > 0) {
        params.points = Math.round(p1);
        params.per = Math.round(Number($("b-p2").value) || 1);
      }
    }
    if (a === "award_points_percent" || a === "award_points_per_amount") {
      if (rounding.value !== "down") params.rounding = rounding.value;
      if (maxPts.value.trim()) params.max = num_(maxPts.value.trim());
    }
    if (POINTS_ACTIONS.includes(a)) {
      if (feeds.value !== "both") params.feeds = feeds.value;
      if (toSel.value !== "customer") params.to = toSel.value;
    }
    return { name: a, params };
  }
  // What the form says, piece by piece (undefined: the form writes nothing there).
  function pieces() {
    const p = { name: $("b-name").value };
    const providers = Array.from(document.querySelectorAll('input[name="b-provider"]:checked')).map((c) => c.value);
    if (providers.length) p.providers = providers;
    p.starts_at = when("b-starts");
    p.ends_at = when("b-ends");
    p.priority = Number($("b-priority").value) || 0;
    if (stacking.value !== "stackable") p.stacking = stacking.value;
    if (pending.value.trim()) p.pending_days = num_(pending.value.trim());
    const b = Object.entries(budget).filter(([, c]) => c.value.trim());
    if (b.length) p.budget = Object.fromEntries(b.map(([k, c]) => [k, num_(c.value.trim())]));
    if (expiry.value) {
      const m = expiryMonths.value.trim();
      const withMonths = !expiryMonthsField.hidden && (m || expiry.value === "end_of_month_after");
      p.points_expiry = withMonths ? { policy: expiry.value, months: num_(m) } : expiry.value;
    }
    const funders = funding.rows().filter(([f]) => f);
    if (funders.length) p.funding = Object.fromEntries(funders.map(([f, share]) => [f, num_(share)]));
    p.limits = limitOf(limit);
    if (control.value.trim()) p.experiment = { control_share: num_(control.value.trim()) };
    if (chPeriod.value) {
      p["challenge.period"] = chPeriod.value;
      p["challenge.steps"] = Array.from(steps.children, (step) => {
        const sb = step.builder;
        return { name: sb.name.value, count: num_(sb.count.value.trim() || "1"), conditions: condsOf(sb.box) };
      });
      p["challenge.reward"] = rewardKind.value === "grant_reward" ? { grant_reward: rewardCode.value.trim() } : { award_points: num_(reward.value.trim()) };
    }
    if (withRule.checked) {
      p["rule.name"] = $("b-rule").value;
      p["rule.limits"] = limitOf(ruleLimit);
      p["rule.conditions"] = condsOf(conds, { name: "amount", operator: "greater_than_or_equal_to", value: 0 });
      p["rule.action"] = actionOf();
    }
    return p;
  }
  const TOP = ["name", "type", "providers", "starts_at", "ends_at", "priority", "stacking", "pending_days", "budget", "points_expiry", "funding", "limits", "experiment"];
  const CHALLENGE = ["challenge.period", "challenge.steps", "challenge.reward"];
  const OWN = [...TOP, "challenge", "rules"]; // the keys the form writes; any other is written back as it was
  const RULE = ["rule.name", "rule.limits", "rule.conditions", "rule.action"];
  const DEFAULTS = { type: "earning", priority: 0, stacking: "stackable", pending_days: 0 };
  const PARAM_DEFAULTS = { feeds: "both", to: "customer", rounding: "down", max: null };
  const isObj = (v) => v !== null && typeof v === "object" && !Array.isArray(v);
  function canon(v) {
    if (Array.isArray(v)) return "[" + v.map(canon).join(",") + "]";
    if (isObj(v)) return "{" + Object.keys(v).sort().filter((k) => v[k] !== undefined).map((k) => JSON.stringify(k) + ":" + canon(v[k])).join(",") + "}";
    return JSON.stringify(v === undefined ? null : v);
  }
  // a condition's `value: null` where its operator takes none, a step's `count: 1`: written or not, the same
  function plain(v) {
    if (Array.isArray(v)) return v.map(plain);
    if (!isObj(v)) return v;
    const out = {};
    for (const [k, x] of Object.entries(v)) if (!(k === "value" && x === null && "operator" in v)) out[k] = plain(x);
    if ("conditions" in v && "name" in v && !("actions" in v) && out.count === undefined) out.count = 1;
    return out;
  }
  // equal as the validator reads them: defaults written or left out are the same
  function same(key, a, b) {
    const norm = (v) => {
      if (v === undefined && key in DEFAULTS) return DEFAULTS[key];
      if (key === "rule.action" && isObj(v) && isObj(v.params)) {
        const params = Object.fromEntries(Object.entries(v.params).filter(([k, x]) => !(k in PARAM_DEFAULTS && PARAM_DEFAULTS[k] === x)));
        return { name: v.name, params };
      }
      if (key === "points_expiry" && isObj(v) && Object.keys(v).length === 1 && "policy" in v) return v.policy;
      return plain(v);
    };
    return canon(norm(a)) === canon(norm(b));
  }
  // The document last read into the form, what the form showed of it, and what it could not show.
  let base = null;
  let shown = null;
  let kept = new Set();
  function baseRule() {
    return base && Array.isArray(base.rules) && base.rules.length ? base.rules[0] : undefined;
  }
  function basePiece(key) {
    const r = baseRule();
    if (key.startsWith("challenge.")) return isObj(base.challenge) ? base.challenge[key.slice(10)] : undefined;
    if (!key.startsWith("rule.")) return base[key];
    if (!r) return undefined;
    if (key === "rule.action") return Array.isArray(r.actions) ? r.actions[0] : undefined;
    return r[key.slice(5)];
  }
  function challengeOf(get) {
    const ch = {};
    for (const k of CHALLENGE) if (get(k) !== undefined) ch[k.slice(10)] = get(k);
    return ch;
  }
  // the document: the form's pieces, except those read and left unchanged or that the form cannot show,
  // which are the read document's own; every other key of it is written back as it was
  function compose() {
    const p = pieces();
    if (!base) {
      p.type = "earning";
      const doc = {};
      for (const k of TOP) if (p[k] !== undefined) doc[k] = p[k];
      if (p["challenge.period"]) doc.challenge = challengeOf((k) => p[k]);
      if (!withRule.checked) return doc;
      const rule = { name: p["rule.name"] };
      if (p["rule.limits"]) rule.limits = p["rule.limits"];
      rule.conditions = p["rule.conditions"];
      rule.actions = [p["rule.action"]];
      doc.rules = [rule];
      return doc;
    }
    const pick = (k) => (kept.has(k) || same(k, p[k], shown[k]) ? basePiece(k) : p[k]);
    const doc = {};
    for (const k of TOP) {
      const v = k === "type" ? base.type : pick(k);
      if (v !== undefined) doc[k] = v;
    }
    if (pick("challenge.period") !== undefined) doc.challenge = challengeOf(pick);
    for (const k of Object.keys(base)) if (!OWN.includes(k)) doc[k] = base[k];
    const others = Array.isArray(base.rules) ? base.rules.slice(1) : [];
    if (withRule.checked) {
      const r = baseRule() || {};
      const rule = { name: pick("rule.name") };
      const lim = pick("rule.limits");
      if (lim !== undefined) rule.limits = lim;
      rule.conditions = pick("rule.conditions");
      const action = pick("rule.action");
      rule.actions = [action, ...(Array.isArray(r.actions) ? r.actions.slice(1) : [])];
      for (const k of Object.keys(r)) if (!(k in rule)) rule[k] = r[k];
      doc.rules = [rule, ...others];
    } else if (base.rules !== undefined) {
      doc.rules = others;
    }
    return doc;
  }

  // YAML as a marketer writes it: blocks for the document's structure, one line per condition and action
  const BLOCK = new Set(["challenge", "steps", "rules", "conditions", "all", "any", "actions", "tiers"]);
  const ITEM_BLOCK = new Set(["steps", "rules", "tiers"]);
  const KEYWORD = /^(true|false|null|yes|no|on|off|y|n|~)$/i;
  function yScalar(v, quote) {
    if (typeof v === "string") return !quote && /^[A-Za-z_][A-Za-z0-9_.]*$/.test(v) && !KEYWORD.test(v) ? v : JSON.stringify(v);
    return v === undefined ? "null" : JSON.stringify(v);
  }
  const yKey = (k) => yScalar(String(k), false);
  // names of the document, its rules and steps are always quoted; other strings only when YAML needs it
  function yFlow(v, key) {
    if (Array.isArray(v)) return "[" + v.map((x) => yFlow(x)).join(", ") + "]";
    if (isObj(v)) return "{" + Object.entries(v).map(([k, x]) => `${yKey(k)}: ${yFlow(x)}`).join(", ") + "}";
    return yScalar(v, key === "name");
  }
  function yEntry(key, v, indent) {
    const pad = " ".repeat(indent);
    if (BLOCK.has(key) && Array.isArray(v) && v.length) {
      const lines = [`${pad}${yKey(key)}:`];
      for (const item of v) {
        if (ITEM_BLOCK.has(key) && isObj(item) && Object.keys(item).length) {
          const inner = Object.entries(item).flatMap(([k, x]) => yEntry(k, x, indent + 4));
          inner[0] = `${pad}  - ${inner[0].trimStart()}`;
          lines.push(...inner);
        } else lines.push(`${pad}  - ${yFlow(item)}`);
      }
      return lines;
    }
    if (BLOCK.has(key) && isObj(v)) {
      const inner = Object.entries(v).flatMap(([k, x]) => yEntry(k, x, indent + 2));
      if (inner.length > Object.keys(v).length) return [`${pad}${yKey(key)}:`, ...inner];
    }
    return [`${pad}${yKey(key)}: ${yFlow(v, key)}`];
  }
  const toYaml = (doc) => Object.entries(doc).flatMap(([k, v]) => yEntry(k, v, 0)).join("\n") + "\n";

  $("b-write").addEventListener("click", () => {
    const doc = compose();
    const json = base !== null && fmtSel.value === "json";
    src.value = json ? JSON.stringify(doc, null, 2) + "\n" : toYaml(doc);
    fmtSel.value = json ? "json" : "yaml";
    selectTab(tabs[0]);
    render();
    validate();
    src.focus();
  });

  // -- reading a document into the form ---------------------------------------------------------
  function setWhen(id, value) {
    const m = typeof value === "string" && /^(\d{4}-\d\d-\d\dT\d\d:\d\d(?::\d\d)?)(?:\.\d+)?(Z|[+-]\d\d:\d\d)$/.exec(value);
    $(id).value = m ? (m[1].endsWith(":00") && m[1].length === 19 ? m[1].slice(0, 16) : m[1]) : "";
    if (m) $("b-tz").value = m[2] === "Z" ? "+00:00" : m[2];
  }
  const text = (v) => (v === undefined || v === null ? "" : Array.isArray(v) ? v.join(", ") : String(v));
  // fills a box from {all: [leaves]} when the picker knows every variable and operator (else leaves it empty)
  function fillConds(box, prefix, conditions) {
    clearConds(box);
    const all = isObj(conditions) && Object.keys(conditions).length === 1 && Array.isArray(conditions.all) ? conditions.all : null;
    if (!all) return;
    for (const leaf of all) {
      if (!isObj(leaf) || !(leaf.name in varType) || !opOptions(varType[leaf.name]).includes(leaf.operator)) continue;
      addCond(box, prefix, leaf.name, leaf.operator, text(leaf.value));
    }
  }
  function fillAction(action) {
    const params = isObj(action) && isObj(action.params) ? action.params : {};
    const known = Array.from(actionSel.options, (o) => o.value);
    if (!isObj(action) || !known.includes(action.name)) return;
    actionSel.value = action.name;
    $("b-p1").value = text(params.factor ?? params.points);
    $("b-p2").value = text(params.per);
    percent.value = text(params.percent);
    rounding.value = params.rounding || "down";
    maxPts.value = text(params.max);
    feeds.value = FEEDS.includes(params.feeds) ? params.feeds : "both";
    toSel.value = RECIPIENTS.includes(params.to) ? params.to : "customer";
    bands.clear();
    rates.clear();
    rateMode.value = Array.isArray(params.bands) ? "bands" : params.by ? "by" : "flat";
    for (const b of Array.isArray(params.bands) ? params.bands : []) bands.add([b.from, b.points, b.per]);
    if (params.by) {
      if (!Array.from(bySel.options, (o) => o.value).includes(params.by)) bySel.add(new Option(params.by, params.by));
      bySel.value = params.by;
      for (const [k, r] of Object.entries(isObj(params.rates) ? params.rates : {})) rates.add([k, r.points, r.per]);
    }
    actionFields();
  }
  function fillLimit(c, limits) {
    const pc = isObj(limits) && isObj(limits.per_customer) ? limits.per_customer : {};
    c.count.value = text(pc.count);
    c.period.value = PERIODS.includes(pc.period) ? pc.period : "day";
  }
  function fill(doc) {
    $("b-name").value = text(doc.name);
    $("b-priority").value = text(doc.priority ?? 0);
    setWhen("b-starts", doc.starts_at);
    setWhen("b-ends", doc.ends_at);
    const providers = Array.isArray(doc.providers) ? doc.providers : [];
    document.querySelectorAll('input[name="b-provider"]').forEach((c) => (c.checked = providers.includes(c.value)));
    stacking.value = doc.stacking === "exclusive" ? "exclusive" : "stackable";
    pending.value = doc.pending_days ? text(doc.pending_days) : "";
    for (const [k, c] of Object.entries(budget)) c.value = isObj(doc.budget) ? text(doc.budget[k]) : "";
    const pe = doc.points_expiry;
    expiry.value = (isObj(pe) ? pe.policy : pe) || "";
    expiryMonths.value = isObj(pe) ? text(pe.months) : "";
    expiryShow();
    funding.clear();
    for (const [f, share] of Object.entries(isObj(doc.funding) ? doc.funding : {})) funding.add([f, share]);
    fillLimit(limit, doc.limits);
    control.value = isObj(doc.experiment) ? text(doc.experiment.control_share) : "";
    const ch = isObj(doc.challenge) ? doc.challenge : null;
    chPeriod.value = ch && ["month", "week", "campaign"].includes(ch.period) ? ch.period : "";
    steps.innerHTML = "";
    stepCount = 0;
    for (const step of ch && Array.isArray(ch.steps) ? ch.steps : []) {
      const sb = addStep();
      sb.name.value = text(step.name);
      sb.count.value = text(step.count ?? 1);
      fillConds(sb.box, `${sb.prefix} ${L.condition.toLowerCase()}`, step.conditions);
    }
    const rw = ch && isObj(ch.reward) ? ch.reward : {};
    rewardKind.value = "grant_reward" in rw ? "grant_reward" : "award_points";
    reward.value = text(rw.award_points);
    rewardCode.value = text(rw.grant_reward);
    rewardShow();
    chShow();
    const r = Array.isArray(doc.rules) && doc.rules.length ? doc.rules[0] : null;
    withRule.checked = r !== null;
    $("b-rule").value = r ? text(r.name) : "";
    fillLimit(ruleLimit, r ? r.limits : undefined);
    fillConds(conds, L.condition, r ? r.conditions : undefined);
    fillAction(r && Array.isArray(r.actions) ? r.actions[0] : undefined);
  }
  const readNote = $("b-read-note");
  $("b-read").addEventListener("click", async () => {
    const { status, body } = await post($("b-read").dataset.url, { source: src.value, format: fmtSel.value });
    readNote.innerHTML = "";
    if (!body || !body.ok) {
      readNote.append(mk("p", { className: "field-error", textContent: body ? L.readFailed : `HTTP ${status}` }));
      if (body && body.errors) showErrors(body.errors);
      return;
    }
    const doc = body.document;
    fill(doc);
    base = doc;
    kept = new Set();
    shown = pieces();
    const stranger = [];
    for (const k of [...TOP, ...CHALLENGE, ...RULE]) {
      if (k === "type") continue;
      if (k.startsWith("rule.") && !baseRule()) continue;
      if (!same(k, shown[k], basePiece(k))) {
        kept.add(k);
        stranger.push(k.startsWith("rule.") ? `rules[0].${k === "rule.action" ? "actions[0]" : k.slice(5)}` : k);
      }
    }
    for (const k of Object.keys(doc)) if (!OWN.includes(k)) stranger.push(k);
    if (doc.type && doc.type !== "earning") stranger.push(`type: ${doc.type}`);
    const from1 = (path, list) => (list.length === 2 ? `${path}[1]` : `${path}[1..${list.length - 1}]`);
    const r = baseRule();
    if (r && Array.isArray(r.actions) && r.actions.length > 1) stranger.push(from1("rules[0].actions", r.actions));
    if (Array.isArray(doc.rules) && doc.rules.length > 1) stranger.push(from1("rules", doc.rules));
    readNote.append(mk("p", { className: "hint", textContent: L.readDone }));
    if (stranger.length) {
      const ul = mk("ul", { id: "b-kept" }, ...stranger.map((s) => mk("li", {}, mk("code", { textContent: s }))));
      readNote.append(mk("p", { className: "hint", textContent: L.readKept }), ul);
    }
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
