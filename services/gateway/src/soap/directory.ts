import { esc } from "@tigw/platform";
import { endpointPath, NS, SOAP_SERVICES } from "./services.js";

export interface DirectoryUnit {
  serial: string;
  profile: string;
  /** e.g. "5.50.4:2.0.0": firmware version, then the hardware version the firmware group names. */
  firmware: string;
}

export interface DirectorySettings {
  /** https://host:port of the unit's endpoint, no trailing slash. */
  baseUrl: string;
  /** http://host:port when the unit also serves without TLS (then TLSMandatory is false). */
  plainBaseUrl?: string;
  clientAuthMandatory: boolean;
  now: Date;
}

const VERSION = /^\d{1,3}\.\d{1,3}\.\d{1,3}$/;

/**
 * The unit's firmware as ProductInformation wants it: FWVersion and HWVersion are x.y.z each;
 * "5.50.4:2.0.0" gives 5.50.4 and 2.0.0, a version without a hardware part gives HWVersion 1.0.0.
 * The product type version is the firmware's major release (PTV5 -> 5.0.0): what clients use to
 * pick their request templates.
 */
export function productVersions(firmware: string): { fw: string; hw: string; ptv: string } {
  const [fwPart = "", hwPart = ""] = firmware.split(":");
  const fw = VERSION.test(fwPart) ? fwPart : "0.0.0";
  const hw = VERSION.test(hwPart) ? hwPart : "1.0.0";
  return { fw, hw, ptv: `${fw.split(".")[0]}.0.0` };
}

/** ProductCode (at most 8 of [A-Za-z0-9_]) of a unit profile. */
const productCode = (profile: string) => `TIGW_${profile.toUpperCase().replace(/[^A-Z0-9_]/g, "")}`.slice(0, 8);

/** The ProductInformation element (tel/version/ProductInformation.xsd) of a unit. */
export function productInformationXml(unit: DirectoryUnit, now: Date): string {
  const v = productVersions(unit.firmware);
  return (
    `<PI:ProductInformation xmlns:PI="${NS.pi}"><PI:InformationDate>${now.toISOString()}</PI:InformationDate>` +
    `<PI:ProductTypeInformation><PI:ProductType>Konnektor</PI:ProductType><PI:ProductTypeVersion>${v.ptv}</PI:ProductTypeVersion></PI:ProductTypeInformation>` +
    `<PI:ProductIdentification><PI:ProductVendorID>TIGW</PI:ProductVendorID><PI:ProductCode>${esc(productCode(unit.profile))}</PI:ProductCode>` +
    `<PI:ProductVersion><PI:Local><PI:HWVersion>${v.hw}</PI:HWVersion><PI:FWVersion>${v.fw}</PI:FWVersion></PI:Local></PI:ProductVersion></PI:ProductIdentification>` +
    `<PI:ProductMiscellaneous><PI:ProductVendorName>ti-gateway</PI:ProductVendorName><PI:ProductName>ti-gateway hosted Konnektor ${esc(unit.serial)}</PI:ProductName></PI:ProductMiscellaneous>` +
    `</PI:ProductInformation>`
  );
}

/**
 * connector.sds (conn/ServiceDirectory.xsd v3.1): every service this gateway answers, each
 * version whose WSDL is in the gematik folder, with absolute endpoint URLs on the unit's own
 * address. EndpointTLS always; Endpoint (plain HTTP) only when TLS is not mandatory.
 */
export function connectorSds(unit: DirectoryUnit, s: DirectorySettings): string {
  const services = SOAP_SERVICES.map(
    (svc) =>
      `<SI:Service Name="${svc.name}"><SI:Abstract>${esc(svc.abstract)}</SI:Abstract><SI:Versions>` +
      svc.versions
        .map((v) => {
          const path = endpointPath(svc.name, v.version);
          const plain = s.plainBaseUrl ? `<SI:Endpoint Location="${esc(s.plainBaseUrl + path)}"/>` : "";
          return (
            `<SI:Version TargetNamespace="${svc.namespace}" Version="${v.version}"><SI:Abstract>${esc(`${svc.name} ${v.version}`)}</SI:Abstract>` +
            `${plain}<SI:EndpointTLS Location="${esc(s.baseUrl + path)}"/></SI:Version>`
          );
        })
        .join("") +
      `</SI:Versions></SI:Service>`,
  ).join("");
  return (
    `<?xml version="1.0" encoding="UTF-8"?>` +
    `<CONN:ConnectorServices xmlns:CONN="${NS.sds}" xmlns:SI="${NS.si}">` +
    productInformationXml(unit, s.now) +
    `<CONN:TLSMandatory>${s.plainBaseUrl ? "false" : "true"}</CONN:TLSMandatory><CONN:ClientAutMandatory>${s.clientAuthMandatory}</CONN:ClientAutMandatory>` +
    `<SI:ServiceInformation>${services}</SI:ServiceInformation></CONN:ConnectorServices>`
  );
}
