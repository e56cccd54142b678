import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type * as LezerPromql from "@prometheus-io/lezer-promql" with { "resolution-mode": "import" };
import { parse as parseYaml } from "yaml";
import { root } from "../support.js";

export interface Signal {
  name: string;
  type: "gauge" | "counter" | "histogram";
  labels: string[];
  /** What must happen before a counter appears at all. */
  after?: string;
}

// The package is ESM with a CommonJS build beside it: required, typed by its ESM declarations.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { parser } = require("@prometheus-io/lezer-promql") as typeof LezerPromql;

const deploy = (...p: string[]) => join(root, "deploy", ...p);

/** deploy/prometheus/signals.json: the metrics each service must serve. */
export const signals = (): Record<string, Signal[]> =>
  (JSON.parse(readFileSync(deploy("prometheus", "signals.json"), "utf8")) as { services: Record<string, Signal[]> }).services;

export interface Dashboard {
  uid: string;
  title: string;
  panels: { id: number; title: string; type: string; datasource: { uid: string }; targets: { expr: string; datasource: { uid: string } }[] }[];
}

export const dashboards = (): { file: string; dashboard: Dashboard }[] =>
  readdirSync(deploy("grafana", "dashboards"))
    .filter((f) => f.endsWith(".json"))
    .map((file) => ({ file, dashboard: JSON.parse(readFileSync(deploy("grafana", "dashboards", file), "utf8")) as Dashboard }));

export interface AlertRule {
  alert: string;
  expr: string;
  for?: string;
  labels: { severity: string };
  annotations: { summary: string; description: string };
}

export const alertRules = (): AlertRule[] =>
  (parseYaml(readFileSync(deploy("prometheus", "alerts.yml"), "utf8")) as { groups: { rules: AlertRule[] }[] }).groups.flatMap((g) => g.rules);

export const yamlFile = (...p: string[]): unknown => parseYaml(readFileSync(deploy(...p), "utf8"));

/**
 * Parses PromQL with the Prometheus project's own grammar (lezer-promql, as in the Prometheus
 * UI): the syntax errors found, and the metric names its selectors read.
 */
export function promql(expr: string): { errors: string[]; metrics: string[] } {
  const tree = parser.parse(expr);
  const errors: string[] = [];
  const metrics: string[] = [];
  tree.iterate({
    enter: (n) => {
      if (n.type.isError) errors.push(`syntax error at ${n.from} in ${expr}`);
      if (n.name === "Identifier" && n.node.parent?.name === "VectorSelector") metrics.push(expr.slice(n.from, n.to));
    },
  });
  return { errors, metrics };
}

/** The signal a Prometheus series name belongs to (histograms: _bucket, _sum, _count). */
export const signalOf = (series: string): string => series.replace(/_(bucket|sum|count)$/, "");
