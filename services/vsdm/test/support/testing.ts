// What other packages' tests and benchmarks use of vsdm's test support.
export * from "./practice.js";
export * from "./gematik-xsd.js";
