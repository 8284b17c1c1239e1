import { describe, expect, it } from "vitest";
import { duplicateFields } from "./decoding.js";

describe("duplicateFields", () => {
  it("names duplicate keys by their field path, in arrays too", () => {
    expect(duplicateFields('{"metadata":{"name":"a","name":"b"},"data":{}}')).toEqual(["metadata.name"]);
    expect(duplicateFields('{"spec":{"containers":[{"name":"c","image":"i","image":"j"}]}}')).toEqual([
      "spec.containers[0].image",
    ]);
    expect(duplicateFields('{"a":1,"a":{"b":"x\\"y"},"c":[1,"2",null,true]}')).toEqual(["a"]);
  });
  it("finds none in ordinary JSON and gives up quietly on invalid JSON", () => {
    expect(duplicateFields('{"a":{"a":{"a":[]}},"b":[{},{"b":1}]}')).toEqual([]);
    expect(duplicateFields('{"a":')).toEqual([]);
  });
});
