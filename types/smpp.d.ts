// `smpp` ships no types. Only the benchmark's bare loop (the ceiling the SMS drain is measured
// against) uses it, a development dependency; the product speaks SMPP itself (src/sms/pdu.ts).
declare module 'smpp' {
  const smpp: unknown;
  export default smpp;
}
