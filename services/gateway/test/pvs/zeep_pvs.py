"""A practice software (PVS) as an outsider writes it: Python zeep clients generated from the
gematik WSDLs, nothing from ti-gateway's own code. It discovers the Konnektor through
connector.sds, then GetCards, VerifyPin, ReadCardCertificate, ExternalAuthenticate, Subscribe with
a CETP listener, and ReadVSD of the eGK whose CARD/INSERTED event arrives. Each step prints one
JSON line; the test (soap.test.ts) drives the world (inserting the card) and checks the results.
"""

import argparse
import base64
import gzip
import hashlib
import json
import socket
import ssl
import struct
import sys

import requests
from lxml import etree
from zeep import Client, Settings
from zeep.transports import Transport

SDS = "{http://ws.gematik.de/conn/ServiceDirectory/v3.1}"
SI = "{http://ws.gematik.de/conn/ServiceInformation/v2.0}"
WSDL = {
    "EventService": ("EventService.wsdl", "{http://ws.gematik.de/conn/EventService/WSDL/v7.2}EventServiceBinding"),
    "CardService": ("CardService_v8_1_2.wsdl", "{http://ws.gematik.de/conn/CardService/WSDL/v8.1}CardServiceBinding"),
    "CertificateService": ("CertificateService_v6_0_1.wsdl", "{http://ws.gematik.de/conn/CertificateService/WSDL/v6.0}CertificateServiceBinding"),
    "AuthSignatureService": ("AuthSignatureService_v7_4_1.wsdl", "{http://ws.gematik.de/conn/AuthSignatureService/WSDL/v7.4}AuthSignatureServiceBinding"),
    "VSDService": ("vsds/VSDService.wsdl", "{http://ws.gematik.de/conn/vsds/VSDService/v5.2}VSDServiceBinding"),
}


def say(step, **data):
    print(json.dumps({"step": step, **data}), flush=True)


def version_key(v):
    return tuple(int(x) for x in v.split("."))


def discover(url, ca):
    """connector.sds: the EndpointTLS of the highest version of each service."""
    root = etree.fromstring(requests.get(url, verify=ca, timeout=30).content)  # explicit verify wins over the environment
    endpoints = {}
    for service in root.iter(SI + "Service"):
        versions = [(v.get("Version"), v.find(SI + "EndpointTLS").get("Location")) for v in service.iter(SI + "Version")]
        endpoints[service.get("Name")] = max(versions, key=lambda x: version_key(x[0]))
    return {
        "tls": root.findtext(SDS + "TLSMandatory"),
        "endpoints": endpoints,
    }


def read_frame(conn):
    head = b""
    while len(head) < 8:
        chunk = conn.recv(8 - len(head))
        if not chunk:
            raise EOFError("CETP connection closed")
        head += chunk
    if head[:4] != b"CETP":
        raise ValueError("not a CETP frame: %r" % head[:4])
    (length,) = struct.unpack(">I", head[4:])
    body = b""
    while len(body) < length:
        body += conn.recv(length - len(body))
    return etree.fromstring(body)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--sds", required=True)
    p.add_argument("--ca", required=True)
    p.add_argument("--wsdl-dir", required=True)
    p.add_argument("--cetp-cert", required=True)
    p.add_argument("--cetp-key", required=True)
    p.add_argument("--mandant", required=True)
    p.add_argument("--client-system", required=True)
    p.add_argument("--workplace", required=True)
    a = p.parse_args()

    found = discover(a.sds, a.ca)
    say("discovered", tls=found["tls"], endpoints={k: v for k, v in found["endpoints"].items()})

    session = requests.Session()
    session.verify = a.ca
    # Otherwise REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE of the environment override verify per request.
    session.trust_env = False
    # The gematik WSDLs import XMLDSig, whose schema declares DTD entities: local files, trusted.
    settings = Settings(forbid_entities=False, forbid_dtd=False, strict=True)
    transport = Transport(session=session, timeout=60, operation_timeout=60)

    def service(name):
        wsdl, binding = WSDL[name]
        client = Client(f"{a.wsdl_dir}/{wsdl}", transport=transport, settings=settings)
        return client, client.create_service(binding, found["endpoints"][name][1])

    context = {"MandantId": a.mandant, "ClientSystemId": a.client_system, "WorkplaceId": a.workplace}

    _, events = service("EventService")
    answer = events.GetCards(Context=context, _soapheaders=None)
    cards = [
        {"handle": c.CardHandle, "type": c.CardType, "holder": c.CardHolderName, "ctId": c.CtId, "slot": int(c.SlotId), "iccsn": c.Iccsn}
        for c in (answer.Cards.Card if answer.Cards else [])
    ]
    say("cards", status=answer.Status.Result, cards=cards)
    smcb = next(c for c in cards if c["type"] == "SMC-B")

    _, card_service = service("CardService")
    pin = card_service.VerifyPin(Context=context, CardHandle=smcb["handle"], PinTyp="PIN.SMC")
    say("verifypin", result=pin.PinResult)

    _, certificates = service("CertificateService")
    cert = certificates.ReadCardCertificate(CardHandle=smcb["handle"], Context=context, CertRefList={"CertRef": ["C.AUT"]})
    der = cert.X509DataInfoList.X509DataInfo[0].X509Data.X509Certificate
    say("certificate", der=base64.b64encode(der).decode())

    auth_client, auth = service("AuthSignatureService")
    digest = hashlib.sha256(b"a challenge of the practice software").digest()
    base64_data = auth_client.get_element("{urn:oasis:names:tc:dss:1.0:core:schema}Base64Data")
    signed = auth.ExternalAuthenticate(
        CardHandle=smcb["handle"],
        Context=context,
        OptionalInputs={"SignatureType": "urn:bsi:tr:03111:ecdsa"},
        BinaryString={"Base64Data": base64_data(_value_1=digest)},
    )
    say("authenticated", digest=base64.b64encode(digest).decode(), signature=base64.b64encode(signed.SignatureObject.Base64Signature._value_1).decode(),
        type=signed.SignatureObject.Base64Signature.Type)

    # The CETP listener: TLS, as connector.sds says TLS is mandatory.
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(a.cetp_cert, a.cetp_key)
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(60)
    port = listener.getsockname()[1]
    sub = events.Subscribe(Context=context, Subscription={"EventTo": f"cetp://127.0.0.1:{port}", "Topic": "CARD/INSERTED"})
    say("subscribed", id=sub.SubscriptionID, until=sub.TerminationTime.isoformat())

    raw, _ = listener.accept()
    conn = tls.wrap_socket(raw, server_side=True)
    conn.settimeout(60)
    event = read_frame(conn)
    evt = "{http://ws.gematik.de/conn/EventService/v7.2}"
    params = {p.findtext(evt + "Key"): p.findtext(evt + "Value") for p in event.iter(evt + "Parameter")}
    say("event", topic=event.findtext(evt + "Topic"), subscription=event.findtext(evt + "SubscriptionID"), params=params)

    _, vsd = service("VSDService")
    read = vsd.ReadVSD(EhcHandle=params["CardHandle"], HpcHandle=smcb["handle"], PerformOnlineCheck=True, ReadOnlineReceipt=True, Context=context)
    persons = etree.fromstring(gzip.decompress(read.PersoenlicheVersichertendaten))
    receipt = etree.fromstring(gzip.decompress(read.Pruefungsnachweis))
    say(
        "vsd",
        surname=next(e.text for e in persons.iter() if etree.QName(e).localname == "Nachname"),
        result=next(e.text for e in receipt.iter() if etree.QName(e).localname == "E"),
    )
    events.Unsubscribe(Context=context, SubscriptionID=sub.SubscriptionID)
    conn.close()
    say("done")


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # the test shows what went wrong
        say("error", error=f"{type(e).__name__}: {e}")
        sys.exit(1)
