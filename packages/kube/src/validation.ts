/**
 * Kubernetes' own syntax rules for names, as the API server applies them
 * (k8s.io/apimachinery/pkg/util/validation). Each function returns the problems it found, worded
 * as upstream words them, or an empty array when the value is valid: callers that take objects
 * from anywhere (not only from an API server that already validated them) check a field before
 * it reaches a rule, a file path or a command line, and report the message with the field's path.
 *
 * Which rule applies where (pkg/apis/core/validation, pkg/apis/discovery/validation):
 * - Service names: {@link validateDNS1035Label}.
 * - Namespace names, Service and EndpointSlice port names: {@link validateDNS1123Label}.
 * - EndpointSlice, Node and most other object names: {@link validateDNS1123Subdomain}.
 * - Container port names and named target ports (IANA_SVC_NAME): {@link validatePortName}.
 */

/** Longest DNS-1123 label (RFC 1123): 63 characters. */
export const DNS1123_LABEL_MAX_LENGTH = 63;
/** Longest DNS-1123 subdomain (RFC 1123): 253 characters. */
export const DNS1123_SUBDOMAIN_MAX_LENGTH = 253;
/** Longest DNS-1035 label (RFC 1035): 63 characters. */
export const DNS1035_LABEL_MAX_LENGTH = 63;
/** Longest port name (IANA_SVC_NAME, RFC 6335): 15 characters. */
export const PORT_NAME_MAX_LENGTH = 15;

const DNS1123_LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
const DNS1123_SUBDOMAIN_FMT = `${DNS1123_LABEL_FMT}(\\.${DNS1123_LABEL_FMT})*`;
const DNS1035_LABEL_FMT = "[a-z]([-a-z0-9]*[a-z0-9])?";

const DNS1123_LABEL = new RegExp(`^${DNS1123_LABEL_FMT}$`);
const DNS1123_SUBDOMAIN = new RegExp(`^${DNS1123_SUBDOMAIN_FMT}$`);
const DNS1035_LABEL = new RegExp(`^${DNS1035_LABEL_FMT}$`);
const PORT_NAME_CHARSET = /^[-a-z0-9]+$/;
const ONE_LETTER = /[a-z]/;

/** Upstream's MaxLenError. */
function maxLenError(length: number): string {
  return `must be no more than ${length} characters`;
}

/** Upstream's RegexError: the rule, examples, and the regex itself. */
function regexError(message: string, format: string, ...examples: string[]): string {
  if (examples.length === 0) return `${message} (regex used for validation is '${format}')`;
  return `${message} (e.g. ${examples.map((e) => `'${e}', `).join(" or ")}regex used for validation is '${format}')`;
}

const NOT_A_STRING = ["must be a string"];

/**
 * Problems with `value` as a DNS-1123 label (RFC 1123): at most 63 lower-case alphanumeric
 * characters or '-', starting and ending with an alphanumeric character. Mirrors
 * `IsDNS1123Label`; namespaces and port names use it.
 */
export function validateDNS1123Label(value: unknown): string[] {
  if (typeof value !== "string") return NOT_A_STRING.slice();
  const errors: string[] = [];
  if (value.length > DNS1123_LABEL_MAX_LENGTH) errors.push(maxLenError(DNS1123_LABEL_MAX_LENGTH));
  if (!DNS1123_LABEL.test(value)) {
    // Already length-checked: a valid subdomain that is not a valid label has dots.
    if (DNS1123_SUBDOMAIN.test(value)) errors.push("must not contain dots");
    else
      errors.push(
        regexError(
          "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character",
          DNS1123_LABEL_FMT,
          "my-name",
          "123-abc",
        ),
      );
  }
  return errors;
}

/**
 * Problems with `value` as a DNS-1123 subdomain (RFC 1123): at most 253 characters, DNS-1123
 * labels joined by '.'. Mirrors `IsDNS1123Subdomain`; most object names use it.
 */
export function validateDNS1123Subdomain(value: unknown): string[] {
  if (typeof value !== "string") return NOT_A_STRING.slice();
  const errors: string[] = [];
  if (value.length > DNS1123_SUBDOMAIN_MAX_LENGTH) errors.push(maxLenError(DNS1123_SUBDOMAIN_MAX_LENGTH));
  if (!DNS1123_SUBDOMAIN.test(value))
    errors.push(
      regexError(
        "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character",
        DNS1123_SUBDOMAIN_FMT,
        "example.com",
      ),
    );
  return errors;
}

/**
 * Problems with `value` as a DNS-1035 label (RFC 1035): like a DNS-1123 label, but it must start
 * with a letter. Mirrors `IsDNS1035Label`; Service names use it.
 */
export function validateDNS1035Label(value: unknown): string[] {
  if (typeof value !== "string") return NOT_A_STRING.slice();
  const errors: string[] = [];
  if (value.length > DNS1035_LABEL_MAX_LENGTH) errors.push(maxLenError(DNS1035_LABEL_MAX_LENGTH));
  if (!DNS1035_LABEL.test(value))
    errors.push(
      regexError(
        "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character",
        DNS1035_LABEL_FMT,
        "my-name",
        "abc-123",
      ),
    );
  return errors;
}

/**
 * Problems with `value` as an IANA_SVC_NAME (RFC 6335) port name: 1-15 characters of [-a-z0-9],
 * at least one letter, no leading, trailing or doubled '-'. Mirrors `IsValidPortName`; container
 * port names and named target ports use it (Service and EndpointSlice port names are DNS-1123
 * labels instead).
 */
export function validatePortName(value: unknown): string[] {
  if (typeof value !== "string") return NOT_A_STRING.slice();
  const errors: string[] = [];
  if (value.length > PORT_NAME_MAX_LENGTH) errors.push(maxLenError(PORT_NAME_MAX_LENGTH));
  if (!PORT_NAME_CHARSET.test(value))
    errors.push("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)");
  if (!ONE_LETTER.test(value)) errors.push("must contain at least one letter (a-z)");
  if (value.includes("--")) errors.push("must not contain consecutive hyphens");
  if (value.length > 0 && (value.startsWith("-") || value.endsWith("-")))
    errors.push("must not begin or end with a hyphen");
  return errors;
}
