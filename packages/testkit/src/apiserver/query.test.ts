import { describe, expect, it } from "vitest";
import { queryBool } from "./query.js";

describe("queryBool", () => {
  const of = (qs: string, name = "watch"): boolean => queryBool(new URLSearchParams(qs), name);
  it("is false when absent, 0 or false in any case", () => {
    expect(of("")).toBe(false);
    expect(of("watch=0")).toBe(false);
    expect(of("watch=false")).toBe(false);
    expect(of("watch=False")).toBe(false);
    expect(of("watch=FALSE")).toBe(false);
  });
  it("is true for anything else, including True, 1, yes and an empty value", () => {
    for (const v of ["true", "True", "TRUE", "1", "yes", "", "00"]) expect(of(`watch=${v}`)).toBe(true);
  });
  it("reads the first value only", () => {
    expect(of("watch=false&watch=true")).toBe(false);
    expect(of("watch=True&watch=false")).toBe(true);
  });
});
