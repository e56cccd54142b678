export * from "./population/kvnr.js";
export * from "./population/insured.js";
export * from "./population/vsd-xml.js";
export * from "./fachmodul/pruefungsnachweis.js";
export * from "./fachmodul/fachdienst.js";
export * from "./fachmodul/outcome.js";
export * from "./application/vsdm.js";
export * from "./service.js";
