import { createRequire } from "node:module";
import { DOMParser } from "@xmldom/xmldom";
import { SoapFault, SYNTAX_ERROR } from "./envelope.js";
import { NS } from "./services.js";

/** The part of the xpath package used here (XPath 1.0 on any W3C DOM, here xmldom's). */
interface CompiledXPath {
  evaluateBoolean(o: { node: unknown; namespaces: Record<string, string>; allowAnyNamespaceForNoPrefix: boolean }): boolean;
}
// Loaded untyped: its typings pull the browser's DOM library into this Node program.
const xpath = createRequire(__filename)("xpath") as { parse(expression: string): CompiledXPath };

/** FilterType of EventService.xsd: at most 1024 characters. */
const FILTER_MAX = 1024;

/** Prefixes a Filter may use for the Event's namespace (the one the WSDLs and gematik's examples use, and its lower case). */
const PREFIXES = { EVT: NS.evt, evt: NS.evt };

/** An Event every Filter is tried on at Subscribe, so a Filter that cannot be evaluated is refused there, not silently never matched. */
const SAMPLE =
  `<Event xmlns="${NS.evt}"><Topic>CARD/INSERTED</Topic><Type>Operation</Type><Severity>Info</Severity><SubscriptionID>sample</SubscriptionID>` +
  `<Message><Parameter><Key>CardType</Key><Value>EGK</Value></Parameter></Message></Event>`;

/**
 * The Filter of an EventService subscription: an XPath 1.0 expression evaluated on each Event
 * that the subscription's Topic covers, the Event element being the document's root; the event
 * is sent when the expression's boolean value is true (a non-empty node set, a true comparison).
 * Element names without a prefix match the Event's elements too (practice software writes
 * `/Event/Message/Parameter[Key='CardType' and Value='EGK']` as often as with `EVT:`). XPath
 * 1.0 reads nothing but the Event (no document(), no variables), so a Filter cannot reach out.
 */
export class EventFilter {
  private constructor(
    readonly expression: string,
    private readonly compiled: CompiledXPath,
  ) {}

  /** A Filter, or SoapFault 4000 naming why it is not one. */
  static compile(expression: string): EventFilter {
    if (expression.length > FILTER_MAX) throw new SoapFault(SYNTAX_ERROR, `Filter has ${expression.length} characters; at most ${FILTER_MAX}`, true);
    let compiled: CompiledXPath;
    try {
      compiled = xpath.parse(expression);
    } catch (e) {
      throw new SoapFault(SYNTAX_ERROR, `Filter is not an XPath 1.0 expression: ${(e as Error).message.slice(0, 200)}`, true);
    }
    const filter = new EventFilter(expression, compiled);
    try {
      filter.evaluate(SAMPLE);
    } catch (e) {
      throw new SoapFault(SYNTAX_ERROR, `Filter cannot be evaluated on an Event: ${(e as Error).message.slice(0, 200)}`, true);
    }
    return filter;
  }

  /**
   * Whether the Event passes, given as XML in the default namespace (unprefixed names match
   * only unprefixed elements, prefixed ones their namespace); an evaluation error is no match.
   */
  matches(eventXml: string): boolean {
    try {
      return this.evaluate(eventXml);
    } catch {
      return false;
    }
  }

  private evaluate(eventXml: string): boolean {
    const doc = new DOMParser().parseFromString(eventXml, "text/xml");
    return this.compiled.evaluateBoolean({
      node: doc,
      namespaces: PREFIXES,
      allowAnyNamespaceForNoPrefix: true,
    });
  }
}
