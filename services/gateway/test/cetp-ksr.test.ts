import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { firmwareEvents } from "../src/soap/cetp.js";

/** The KSR topics the unit's SOAP endpoint derives from two reads of ksr's view of the unit. */
describe("CETP KSR topics from the unit's firmware view", () => {
  const seen = (version: string, result = "OK", message = "") => ({ version, result, message });

  it("a new installed version is KSR/UPDATE/END with the new and the previous version, for the whole unit", () => {
    const [e, ...rest] = firmwareEvents(seen("5.50.3:2.0.0"), seen("5.50.4:2.0.0"));
    assert.equal(rest.length, 0);
    assert.equal(e!.topic, "KSR/UPDATE/END");
    assert.equal(e!.ctId, "", "not tied to a terminal: every subscription of the unit");
    assert.deepEqual(e!.parameters, [
      ["FWVersion", "5.50.4:2.0.0"],
      ["PreviousFWVersion", "5.50.3:2.0.0"],
    ]);
  });

  it("a new failed step is KSR/ERROR with its HSK code; the same failure seen again is not sent twice", () => {
    const failed = seen("5.50.3:2.0.0", "4183", "firmware file integrity");
    const [e] = firmwareEvents(seen("5.50.3:2.0.0"), failed);
    assert.equal(e!.topic, "KSR/ERROR");
    assert.deepEqual(e!.parameters[0], ["Code", "4183"]);
    assert.deepEqual(firmwareEvents(failed, failed), []);
    assert.equal(firmwareEvents(failed, seen("5.50.3:2.0.0", "4181", "UpdateInformation integrity"))[0]!.topic, "KSR/ERROR");
  });

  it("nothing before the first read, nothing without a change, nothing for a missed window", () => {
    assert.deepEqual(firmwareEvents(undefined, seen("5.50.4:2.0.0")), []);
    assert.deepEqual(firmwareEvents(seen("5.50.4:2.0.0"), seen("5.50.4:2.0.0")), []);
    assert.deepEqual(firmwareEvents(seen("5.50.4:2.0.0"), seen("5.50.4:2.0.0", "MISSED", "window missed")), []);
  });
});
