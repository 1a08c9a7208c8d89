import { CofferError, sysCode } from "../core/errors.js";
import { handlePath, notFoundError, type Handle } from "./backend.js";

/** What the error is about, for its message. */
export interface S3ErrorContext {
  /** The repository URL, as printed. */
  location: string;
  /** The server as a person knows it: `http://127.0.0.1:7480` or `AWS S3`. */
  server: string;
  bucket: string;
  /** What was being done: `loading`, `saving`, `listing`, ... */
  verb: string;
  handle?: Handle;
}

/** The parts of an AWS SDK (or Node network) error that tell what went wrong. */
interface SdkError {
  name?: string;
  Code?: string;
  code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
}

// A retry cannot fix these: the credentials or the permissions are wrong.
const AUTH = new Set(["AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken", "ExpiredToken", "TokenRefreshRequired", "AllAccessDisabled", "AccountProblem", "InvalidSecurity", "AuthorizationHeaderMalformed"]);
// 4xx answers that a later try may not get: S3's own idle timeout, a clock skew the SDK
// corrects on the next request, a conflicting operation in progress.
const TRANSIENT = new Set(["RequestTimeout", "RequestTimeTooSkewed", "OperationAborted", "SlowDown"]);
// Node's codes for a connection that could not be made or broke: a retry may well fix these.
const NETWORK = new Set(["ECONNREFUSED", "ECONNRESET", "ECONNABORTED", "ENOTFOUND", "EAI_AGAIN", "ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH", "EHOSTDOWN", "ENETDOWN", "EPIPE", "ERR_STREAM_PREMATURE_CLOSE", "UND_ERR_SOCKET"]);
// TLS failures: wrong scheme (https to a plain server), untrusted or mismatching certificates.
const TLS = /^(EPROTO|ERR_SSL_|ERR_TLS_|CERT_|UNABLE_TO_|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|HOSTNAME_MISMATCH|ERR_OSSL_)/;

const CREDENTIAL_HINT = "check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE)";

/**
 * Maps whatever the SDK threw to one CofferError whose message is one sentence saying what to
 * do. Errors a retry cannot fix carry `data.permanent` (see `isPermanentS3Error`); a missing
 * object is NOT_FOUND and a missing bucket REPO_MISSING, both permanent by their codes.
 */
export function s3Error(err: unknown, ctx: S3ErrorContext): CofferError {
  if (err instanceof CofferError) return err;
  const e = (typeof err === "object" && err !== null ? err : {}) as SdkError;
  const status = e.$metadata?.httpStatusCode;
  const s3Code = e.Code ?? (e.name && e.name !== "Error" && e.name !== "Unknown" && e.name !== "UnknownError" ? e.name : undefined);
  const sys = sysCode(err);
  const target = ctx.handle ? `${handlePath(ctx.handle)} in ${ctx.location}` : ctx.location;
  const what = `${ctx.verb} ${target}`;
  const data = { server: ctx.server, bucket: ctx.bucket, ...(status !== undefined ? { status } : {}), ...(s3Code ? { s3: s3Code } : {}), ...(sys && sys !== s3Code ? { sys } : {}) };
  // "The S3 server http://host:port ..." / "AWS S3 ...", at the start of a sentence or inside one.
  const who = ctx.server === "AWS S3" ? "AWS S3" : `The S3 server ${ctx.server}`;
  const whoIn = ctx.server === "AWS S3" ? "AWS S3" : `the S3 server ${ctx.server}`;
  const make = (message: string, permanent: boolean): CofferError => new CofferError("BACKEND", message, { ...data, ...(permanent ? { permanent: true } : {}) }, { cause: err });

  if (s3Code === "NoSuchBucket") {
    return new CofferError("REPO_MISSING", `The bucket ${JSON.stringify(ctx.bucket)} does not exist on ${ctx.server}; check the repository URL, or create the repository with "coffer init -r ${ctx.location}".`, data, { cause: err });
  }
  if (ctx.handle && (s3Code === "NoSuchKey" || s3Code === "NotFound" || status === 404)) return notFoundError(ctx.handle, ctx.location, err);
  if (e.name === "CredentialsProviderError" || /could not load credentials/i.test(e.message ?? "")) {
    return make(`No S3 credentials were found for ${ctx.location}; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE for a profile in ~/.aws/credentials.`, true);
  }
  if (/region is missing/i.test(e.message ?? "")) {
    return make(`No AWS region is set for ${ctx.location}; set AWS_REGION (or a region in the AWS profile).`, true);
  }
  if (s3Code === "InvalidAccessKeyId") {
    return make(`${who} does not know the access key in use (InvalidAccessKeyId) while ${what}; ${CREDENTIAL_HINT}.`, true);
  }
  if (s3Code === "SignatureDoesNotMatch") {
    return make(`${who} refused the request signature (SignatureDoesNotMatch) while ${what}: the secret access key is wrong; ${CREDENTIAL_HINT}.`, true);
  }
  const transient = s3Code !== undefined && TRANSIENT.has(s3Code);
  if (!transient && ((s3Code !== undefined && AUTH.has(s3Code)) || status === 401 || status === 403)) {
    return make(`${who} denied access (${s3Code ?? `HTTP ${status}`}) while ${what}; ${CREDENTIAL_HINT}, and that they may use the bucket ${JSON.stringify(ctx.bucket)}.`, true);
  }
  if (s3Code === "InvalidBucketName") {
    return make(`${who} does not accept ${JSON.stringify(ctx.bucket)} as a bucket name; choose another in the repository URL.`, true);
  }
  if (s3Code === "BucketAlreadyExists") {
    return make(`The bucket name ${JSON.stringify(ctx.bucket)} is taken by another account on ${ctx.server}; choose another in the repository URL.`, true);
  }
  if (s3Code === "BadDigest" || s3Code === "XAmzContentSHA256Mismatch") {
    // The server's digest of what arrived differs from the one sent: damaged on the way, so a
    // retry may well get through. Nothing was stored.
    return make(`${who} received other bytes than were sent (${s3Code}) while ${what}; the upload was damaged on the way, check the network.`, false);
  }
  if (sys !== undefined && TLS.test(sys)) {
    return make(
      `The TLS connection to ${ctx.server} failed (${tlsReason(sys, e.message)}) while ${what}; check that the URL's scheme (https or http) matches the server, and that its certificate is trusted (NODE_EXTRA_CA_CERTS names a private CA).`,
      true,
    );
  }
  if (e.name === "TimeoutError" || (sys !== undefined && NETWORK.has(sys)) || /^(socket hang up|aborted)$/i.test(e.message ?? "")) {
    // The SDK names ECONNRESET and EPIPE "TimeoutError" too: a connection that broke (a server
    // killed in the middle of a request) is told by its code, not as a timeout.
    const broke = sys !== undefined && sys !== "ETIMEDOUT" && NETWORK.has(sys);
    const why = sys === "ENOTFOUND" ? "the host name does not resolve" : broke ? sys : e.name === "TimeoutError" || sys === "ETIMEDOUT" ? "it did not answer in time" : (sys ?? firstLine(e.message));
    return make(`Cannot reach ${whoIn} (${why}) while ${what}; check the URL and the network, and that the server is running.`, false);
  }
  if (status !== undefined && status >= 500) {
    return make(`${who} failed (HTTP ${status}${s3Code ? ` ${s3Code}` : ""}) while ${what}; it may be overloaded or down, try again later.`, false);
  }
  if (status !== undefined && status >= 400 && status !== 408 && status !== 429 && !transient) {
    return make(`${who} refused ${what} (HTTP ${status}${s3Code ? ` ${s3Code}` : ""}: ${firstLine(e.message)}).`, true);
  }
  return make(`S3 request failed while ${what}${s3Code ? ` (${s3Code})` : ""}: ${firstLine(e.message)}`, false);
}

/** True for the errors `s3Error` marks as ones a retry cannot fix. */
export function isPermanentS3Error(err: unknown): boolean {
  return err instanceof CofferError && err.data["permanent"] === true;
}

/** The S3 error code (`NoSuchKey`, `InvalidRange`, ...) or HTTP status of an SDK error. */
export function s3Status(err: unknown): { code?: string; status?: number } {
  const e = (typeof err === "object" && err !== null ? err : {}) as SdkError;
  const code = e.Code ?? e.name;
  return { ...(code ? { code } : {}), ...(e.$metadata?.httpStatusCode !== undefined ? { status: e.$metadata.httpStatusCode } : {}) };
}

function tlsReason(sys: string, msg: string | undefined): string {
  if (/wrong version number|packet length too long|http request/i.test(msg ?? "")) return "the server does not speak TLS on that port";
  return sys === "EPROTO" ? firstLine(msg) : `${sys}: ${firstLine(msg)}`;
}

function firstLine(msg: string | undefined): string {
  const line = (msg ?? "unknown error").split("\n")[0] ?? "";
  return line.length > 200 ? `${line.slice(0, 200)}…` : line;
}
