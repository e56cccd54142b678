import { metrics, type Meter } from "@opentelemetry/api";

/** The meter of a service; instrument names carry the tigw_ prefix and their unit. */
export function meter(service: string): Meter {
  return metrics.getMeter(`tigw.${service}`);
}
