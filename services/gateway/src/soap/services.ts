/**
 * The gematik Konnektor services this gateway serves over SOAP, with the namespaces of their
 * schemas (services/contracts/gematik/conn). Every version listed has its WSDL in that folder;
 * a test checks the table against the WSDLs so the two cannot drift apart.
 */
export const NS = {
  soapEnv: "http://schemas.xmlsoap.org/soap/envelope/",
  cctx: "http://ws.gematik.de/conn/ConnectorContext/v2.0",
  conn: "http://ws.gematik.de/conn/ConnectorCommon/v5.0",
  cardcmn: "http://ws.gematik.de/conn/CardServiceCommon/v2.0",
  card: "http://ws.gematik.de/conn/CardService/v8.1",
  ct: "http://ws.gematik.de/conn/CardTerminalInfo/v8.0",
  evt: "http://ws.gematik.de/conn/EventService/v7.2",
  cert: "http://ws.gematik.de/conn/CertificateService/v6.0",
  certcmn: "http://ws.gematik.de/conn/CertificateServiceCommon/v2.0",
  sig: "http://ws.gematik.de/conn/SignatureService/v7.4",
  dss: "urn:oasis:names:tc:dss:1.0:core:schema",
  vsd: "http://ws.gematik.de/conn/vsds/VSDService/v5.2",
  gerror: "http://ws.gematik.de/tel/error/v2.0",
  pi: "http://ws.gematik.de/int/version/ProductInformation/v1.1",
  sds: "http://ws.gematik.de/conn/ServiceDirectory/v3.1",
  si: "http://ws.gematik.de/conn/ServiceInformation/v2.0",
} as const;

export interface ServiceVersion {
  version: string;
  /** The WSDL (relative to the gematik conn folder) that defines this version. */
  wsdl: string;
}

export interface SoapService {
  /** Service@Name in connector.sds. */
  name: string;
  /** The namespace of its messages (the XSD's targetNamespace), Version@TargetNamespace in connector.sds. */
  namespace: string;
  /** The SOAPAction prefix of its operations as the WSDL defines them ("<prefix>#<Operation>"). */
  actionPrefix: string;
  abstract: string;
  versions: ServiceVersion[];
  /** Operations (local names of the request elements) this gateway answers; others get a fault. */
  operations: string[];
}

export const SOAP_SERVICES: readonly SoapService[] = [
  {
    name: "EventService",
    namespace: NS.evt,
    actionPrefix: "http://ws.gematik.de/conn/EventService/v7.2",
    abstract: "Cards, card terminals and resources of the Konnektor",
    versions: [{ version: "7.2.0", wsdl: "EventService.wsdl" }],
    operations: ["GetCards", "GetCardTerminals", "GetResourceInformation", "Subscribe", "Unsubscribe", "GetSubscription", "RenewSubscriptions"],
  },
  {
    name: "CardService",
    namespace: NS.card,
    actionPrefix: "http://ws.gematik.de/conn/CardService/v8.1",
    abstract: "PIN operations of SMC-B and HBA",
    versions: [
      { version: "8.1.0", wsdl: "CardService.wsdl" },
      { version: "8.1.1", wsdl: "CardService_v8_1_1.wsdl" },
      { version: "8.1.2", wsdl: "CardService_v8_1_2.wsdl" },
    ],
    operations: ["VerifyPin", "GetPinStatus", "ChangePin", "UnblockPin"],
  },
  {
    name: "CertificateService",
    namespace: NS.cert,
    actionPrefix: "http://ws.gematik.de/conn/CertificateService/v6.0",
    abstract: "Certificates of the cards",
    versions: [
      { version: "6.0.0", wsdl: "CertificateService.wsdl" },
      { version: "6.0.1", wsdl: "CertificateService_v6_0_1.wsdl" },
    ],
    operations: ["ReadCardCertificate", "VerifyCertificate", "CheckCertificateExpiration"],
  },
  {
    name: "AuthSignatureService",
    namespace: NS.sig,
    actionPrefix: "http://ws.gematik.de/conn/SignatureService/v7.4",
    abstract: "External authentication with the AUT key of an SMC-B or HBA",
    versions: [
      { version: "7.4.0", wsdl: "AuthSignatureService.wsdl" },
      { version: "7.4.1", wsdl: "AuthSignatureService_v7_4_1.wsdl" },
    ],
    operations: ["ExternalAuthenticate"],
  },
  {
    name: "VSDService",
    namespace: NS.vsd,
    // As VSDService.wsdl defines it: the message namespace is v5.2, the SOAPAction names v6.0.
    actionPrefix: "http://ws.gematik.de/conn/vsds/VSDService/v6.0",
    abstract: "Versichertenstammdaten of the eGK (Fachmodul VSDM)",
    versions: [{ version: "5.2.0", wsdl: "vsds/VSDService.wsdl" }],
    operations: ["ReadVSD"],
  },
];

/** The path of a service version's endpoint below the unit's address. */
export const endpointPath = (service: string, version: string) => `/soap/${service}/${version}`;
