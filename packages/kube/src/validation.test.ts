import { describe, expect, it } from "vitest";
import {
  validateDNS1035Label,
  validateDNS1123Label,
  validateDNS1123Subdomain,
  validatePortName,
} from "./validation.js";

// The good and bad values are those of upstream's own tests
// (k8s.io/apimachinery/pkg/util/validation/validation_test.go).
const a = (n: number) => "a".repeat(n);

describe("validateDNS1123Label (IsDNS1123Label)", () => {
  it.each(["a", "ab", "abc", "a1", "a-1", "a--1--2--b", "0", "01", "012", "1a", "1-a", "1--a--b--2", a(63)])(
    "accepts %j",
    (v) => {
      expect(validateDNS1123Label(v)).toEqual([]);
    },
  );

  it.each([
    "",
    "A",
    "ABC",
    "aBc",
    "A1",
    "A-1",
    "1-A",
    "-",
    "a-",
    "-a",
    "1-",
    "-1",
    "_",
    "a_",
    "_a",
    "a_b",
    "1_",
    "_1",
    "1_2",
    ".",
    "a.",
    ".a",
    "a.b",
    "1.",
    ".1",
    "1.2",
    " ",
    "a ",
    " a",
    "a b",
    "1 ",
    " 1",
    "1 2",
    a(64),
  ])("rejects %j", (v) => {
    expect(validateDNS1123Label(v).length).toBeGreaterThan(0);
  });

  it("words its errors as the API server does", () => {
    expect(validateDNS1123Label("Web_1")).toEqual([
      "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
    ]);
    expect(validateDNS1123Label("a.b")).toEqual(["must not contain dots"]);
    expect(validateDNS1123Label(a(64))).toEqual(["must be no more than 63 characters"]);
    expect(validateDNS1123Label(`${a(63)}.b`)).toEqual([
      "must be no more than 63 characters",
      "must not contain dots",
    ]);
  });
});

describe("validateDNS1123Subdomain (IsDNS1123Subdomain)", () => {
  it.each([
    "a",
    "ab",
    "abc",
    "a1",
    "a-1",
    "a--1--2--b",
    "0",
    "01",
    "012",
    "1a",
    "1-a",
    "1--a--b--2",
    "a.a",
    "ab.a",
    "abc.a",
    "a1.a",
    "a-1.a",
    "a--1--2--b.a",
    "a.1",
    "ab.1",
    "abc.1",
    "a1.1",
    "a-1.1",
    "a--1--2--b.1",
    "0.a",
    "01.a",
    "012.a",
    "1a.a",
    "1-a.a",
    "0.1",
    "01.1",
    "012.1",
    "1a.1",
    "1-a.1",
    "1--a--b--2.1",
    "a.b.c.d.e",
    "aa.bb.cc.dd.ee",
    "1.2.3.4.5",
    "11.22.33.44.55",
    a(253),
  ])("accepts %j", (v) => {
    expect(validateDNS1123Subdomain(v)).toEqual([]);
  });

  it.each([
    "",
    "A",
    "ABC",
    "aBc",
    "A1",
    "A-1",
    "1-A",
    "-",
    "a-",
    "-a",
    "1-",
    "-1",
    "_",
    "a_",
    "_a",
    "a_b",
    "1_",
    "_1",
    "1_2",
    ".",
    "a.",
    ".a",
    "a..b",
    "1.",
    ".1",
    "1..2",
    " ",
    "a ",
    " a",
    "a b",
    "1 ",
    " 1",
    "1 2",
    "A.a",
    "aB.a",
    "ab.A",
    "A1.a",
    "a1.A",
    "A.1",
    "aB.1",
    "A1.1",
    "1A.1",
    "0.A",
    "01.A",
    "012.A",
    "1A.a",
    "1a.A",
    "A.B.C.D.E",
    "AA.BB.CC.DD.EE",
    "a.B.c.d.e",
    "aa.bB.cc.dd.ee",
    "a@b",
    "a,b",
    "a;b",
    "a:b",
    "a%b",
    "a?b",
    "a$b",
    a(254),
  ])("rejects %j", (v) => {
    expect(validateDNS1123Subdomain(v).length).toBeGreaterThan(0);
  });

  it("words its errors as the API server does", () => {
    expect(validateDNS1123Subdomain("web..1")).toEqual([
      "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
    ]);
    expect(validateDNS1123Subdomain(a(254))).toEqual(["must be no more than 253 characters"]);
  });
});

describe("validateDNS1035Label (IsDNS1035Label)", () => {
  it.each(["a", "ab", "abc", "a1", "a-1", "a--1--2--b", a(63)])("accepts %j", (v) => {
    expect(validateDNS1035Label(v)).toEqual([]);
  });

  it.each([
    "0",
    "01",
    "012",
    "1a",
    "1-a",
    "1--a--b--2",
    "",
    "A",
    "ABC",
    "aBc",
    "A1",
    "A-1",
    "1-A",
    "-",
    "a-",
    "-a",
    "1-",
    "-1",
    "_",
    "a_",
    "_a",
    "a_b",
    "1_",
    "_1",
    "1_2",
    ".",
    "a.",
    ".a",
    "a.b",
    "1.",
    ".1",
    "1.2",
    " ",
    "a ",
    " a",
    "a b",
    "1 ",
    " 1",
    "1 2",
    a(64),
  ])("rejects %j", (v) => {
    expect(validateDNS1035Label(v).length).toBeGreaterThan(0);
  });

  it("words its errors as the API server does", () => {
    expect(validateDNS1035Label("1web")).toEqual([
      "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')",
    ]);
  });
});

describe("validatePortName (IsValidPortName, IANA_SVC_NAME)", () => {
  it.each(["telnet", "re-mail-ck", "pop3", "a", "a-1", "1-a", "a-1-b-2-c", "1-a-2-b-3"])(
    "accepts %j",
    (v) => {
      expect(validatePortName(v)).toEqual([]);
    },
  );

  it.each([
    "longerthan15characters",
    "",
    a(16),
    "12345",
    "1-2-3-4",
    "-begin",
    "end-",
    "two--hyphens",
    "whois++",
  ])("rejects %j", (v) => {
    expect(validatePortName(v).length).toBeGreaterThan(0);
  });

  it("lists every problem, worded as the API server does", () => {
    expect(validatePortName("-1--2-")).toEqual([
      "must contain at least one letter (a-z)",
      "must not contain consecutive hyphens",
      "must not begin or end with a hyphen",
    ]);
    expect(validatePortName('p"\n-A')).toEqual([
      "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)",
    ]);
  });
});

describe("values that are not strings", () => {
  it.each([undefined, null, 42, {}, ["a"]])("rejects %j in every validator", (v) => {
    for (const validate of [
      validateDNS1123Label,
      validateDNS1123Subdomain,
      validateDNS1035Label,
      validatePortName,
    ]) {
      expect(validate(v)).toEqual(["must be a string"]);
    }
  });
});
