// `smpp` ships no types. The product reaches it only through src/sms/session.ts, which gives
// the parts it uses a narrow type of its own.
declare module 'smpp' {
  const smpp: unknown;
  export default smpp;
}
