import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { root } from "./support.js";
import { alertRules, dashboards, promql, signalOf, signals, yamlFile } from "./support/observability.js";

/** Every TypeScript source of a service (and the platform it builds on), as one text. */
function sourcesOf(service: string): string {
  const texts: string[] = [];
  const walk = (dir: string) => {
    for (const f of readdirSync(dir)) {
      const p = join(dir, f);
      if (statSync(p).isDirectory()) walk(p);
      else if (f.endsWith(".ts")) texts.push(readFileSync(p, "utf8"));
    }
  };
  walk(join(root, "services", service, "src"));
  walk(join(root, "services", "platform", "src", "telemetry"));
  return texts.join("\n");
}

/**
 * The operators' view as files under deploy/: Grafana dashboards and Prometheus alert rules may
 * use only the metrics of deploy/prometheus/signals.json, each expression must parse as PromQL,
 * and every signal must be defined in its service's code and shown on a dashboard.
 */
describe("dashboards, alert rules and the signals table (deploy/)", () => {
  const table = signals();
  const known = new Set(["up", ...Object.values(table).flatMap((list) => list.map((s) => s.name))]);
  const names = (exprs: string[]) => exprs.flatMap((e) => promql(e).metrics).map(signalOf);

  it("every signal is defined in its service's code (HTTP metrics by the instrumentation)", () => {
    for (const [service, list] of Object.entries(table)) {
      const code = sourcesOf(service);
      for (const s of list) {
        if (s.name.startsWith("http_server_")) assert.match(code, /HttpInstrumentation/, `${service}: ${s.name} comes from the HTTP instrumentation`);
        else assert.ok(code.includes(`"${s.name}"`), `${service} defines ${s.name}`);
      }
    }
  });

  it("every dashboard uses the provisioned datasource, unique panel ids, and PromQL that parses and reads known signals only", () => {
    const uid = (yamlFile("grafana", "provisioning", "datasources", "tigw.yaml") as { datasources: { uid: string }[] }).datasources[0]!.uid;
    const all = dashboards();
    assert.ok(all.length >= 4);
    assert.equal(new Set(all.map((d) => d.dashboard.uid)).size, all.length, "dashboard uids are unique");
    for (const { file, dashboard } of all) {
      assert.equal(new Set(dashboard.panels.map((p) => p.id)).size, dashboard.panels.length, `${file}: panel ids unique`);
      for (const p of dashboard.panels) {
        assert.equal(p.datasource.uid, uid, `${file} "${p.title}" uses ${uid}`);
        assert.ok(p.targets.length > 0, `${file} "${p.title}" has a query`);
        for (const t of p.targets) {
          assert.deepEqual(promql(t.expr).errors, [], `${file} "${p.title}"`);
          for (const m of names([t.expr])) assert.ok(known.has(m), `${file} "${p.title}" reads ${m}, which no service serves`);
        }
      }
    }
  });

  it("every alert rule parses, reads known signals, has a severity and tells the operator what to do", () => {
    const rules = alertRules();
    assert.ok(rules.length >= 6);
    assert.equal(new Set(rules.map((r) => r.alert)).size, rules.length, "alert names are unique");
    for (const r of rules) {
      assert.deepEqual(promql(r.expr).errors, [], r.alert);
      for (const m of names([r.expr])) assert.ok(known.has(m), `${r.alert} reads ${m}, which no service serves`);
      assert.ok(["warning", "critical"].includes(r.labels.severity), `${r.alert} severity`);
      assert.ok(r.annotations.summary && r.annotations.description.length > 20, `${r.alert} annotations`);
    }
    const scrape = yamlFile("prometheus", "prometheus.yml") as {
      rule_files: string[];
      scrape_configs: { job_name: string; static_configs: { labels: { service: string } }[] }[];
    };
    assert.deepEqual(scrape.rule_files, ["alerts.yml"]);
    assert.deepEqual(
      scrape.scrape_configs[0]!.static_configs.map((c) => c.labels.service).sort(),
      Object.keys(table).sort(),
      "one target per service of the table",
    );
  });

  it("every alert rule has a promtool unit test in which it fires (deploy/prometheus/alerts.test.yml)", () => {
    const tests = yamlFile("prometheus", "alerts.test.yml") as { tests: { alert_rule_test: { alertname: string; exp_alerts: unknown[] }[] }[] };
    const firing = new Set(tests.tests.flatMap((t) => t.alert_rule_test.filter((a) => a.exp_alerts.length > 0).map((a) => a.alertname)));
    for (const r of alertRules()) assert.ok(firing.has(r.alert), `${r.alert} is never seen firing in a test`);
  });

  it("every signal is shown on some dashboard", () => {
    const shown = new Set(names(dashboards().flatMap(({ dashboard }) => dashboard.panels.flatMap((p) => p.targets.map((t) => t.expr)))));
    for (const name of known) if (name !== "up") assert.ok(shown.has(name), `${name} is on no dashboard`);
  });

  it("the PromQL check is real: a broken expression and an unknown metric are caught", () => {
    assert.notDeepEqual(promql("sum(rate(tigw_vsdm_reads_total[5m])").errors, []);
    assert.deepEqual(names(["histogram_quantile(0.95, sum by (le) (rate(tigw_kt_pairing_duration_ms_bucket[5m])))"]), ["tigw_kt_pairing_duration_ms"]);
    assert.ok(!known.has(names(["rate(tigw_nonexistent_total[5m])"])[0]!));
  });
});
