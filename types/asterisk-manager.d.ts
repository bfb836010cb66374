// Narrow declaration of the parts of `asterisk-manager` the product uses (src/telephony/ami.ts).
declare module 'asterisk-manager' {
  const factory: (port: number, host: string, user: string, secret: string, events: boolean) => unknown;
  export default factory;
}
