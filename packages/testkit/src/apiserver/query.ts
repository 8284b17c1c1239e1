/**
 * A boolean query parameter as kube-apiserver decodes it (runtime.Convert_Slice_string_To_bool):
 * absent is false; the first value `0` or `false` in any case is false; anything else, even an
 * empty value or `True` (what Python clients send), is true.
 */
export function queryBool(q: URLSearchParams, name: string): boolean {
  const v = q.get(name);
  if (v === null) return false;
  return v !== "0" && v.toLowerCase() !== "false";
}
