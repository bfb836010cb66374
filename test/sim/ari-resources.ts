/**
 * Swagger 1.2 declarations of the ARI resources the robot uses, in the shape Asterisk serves
 * under /ari/api-docs (resources.json lists them with swaggerVersion 1.1, each resource
 * declares its operations with httpMethod, nickname, parameters with paramType, and models).
 * Written from the ARI reference for: asterisk, applications, channels, playbacks, bridges,
 * sounds, events. Only what the robot and these tests call is declared.
 */

interface Param {
  name: string;
  paramType: 'path' | 'query' | 'body';
  dataType: string;
  required: boolean;
  allowMultiple?: boolean;
}

interface Op {
  httpMethod: 'GET' | 'POST' | 'DELETE' | 'PUT';
  nickname: string;
  responseClass: string;
  parameters: Param[];
}

const p = (name: string, paramType: Param['paramType'] = 'query', required = false, dataType = 'string'): Param => ({
  name, paramType, dataType, required, allowMultiple: false,
});
const op = (httpMethod: Op['httpMethod'], nickname: string, responseClass: string, parameters: Param[] = []): Op => ({
  httpMethod, nickname, responseClass, parameters,
});

const RESOURCES: Record<string, { apis: Array<{ path: string; operations: Op[] }>; models: Record<string, unknown> }> = {
  asterisk: {
    apis: [
      { path: '/asterisk/info', operations: [op('GET', 'getInfo', 'AsteriskInfo', [p('only')])] },
      { path: '/asterisk/ping', operations: [op('GET', 'ping', 'AsteriskPing')] },
    ],
    models: { AsteriskInfo: { id: 'AsteriskInfo', properties: {} }, AsteriskPing: { id: 'AsteriskPing', properties: {} } },
  },
  applications: {
    apis: [
      { path: '/applications', operations: [op('GET', 'list', 'List[Application]')] },
      { path: '/applications/{applicationName}', operations: [op('GET', 'get', 'Application', [p('applicationName', 'path', true)])] },
    ],
    models: { Application: { id: 'Application', properties: { name: { type: 'string', required: true } } } },
  },
  channels: {
    apis: [
      {
        path: '/channels',
        operations: [
          op('GET', 'list', 'List[Channel]'),
          op('POST', 'originate', 'Channel', [p('endpoint', 'query', true), p('extension'), p('context'), p('priority', 'query', false, 'long'),
            p('label'), p('app'), p('appArgs'), p('callerId'), p('timeout', 'query', false, 'int'), p('variables', 'body', false, 'containers'),
            p('channelId'), p('otherChannelId'), p('originator'), p('formats')]),
        ],
      },
      {
        path: '/channels/{channelId}',
        operations: [
          op('GET', 'get', 'Channel', [p('channelId', 'path', true)]),
          op('POST', 'originateWithId', 'Channel', [p('channelId', 'path', true), p('endpoint', 'query', true), p('extension'), p('context'),
            p('priority', 'query', false, 'long'), p('label'), p('app'), p('appArgs'), p('callerId'), p('timeout', 'query', false, 'int'),
            p('variables', 'body', false, 'containers'), p('otherChannelId'), p('originator'), p('formats')]),
          op('DELETE', 'hangup', 'void', [p('channelId', 'path', true), p('reason_code'), p('reason')]),
        ],
      },
      { path: '/channels/{channelId}/continue', operations: [op('POST', 'continueInDialplan', 'void', [p('channelId', 'path', true), p('context'), p('extension'), p('priority', 'query', false, 'int'), p('label')])] },
      { path: '/channels/{channelId}/answer', operations: [op('POST', 'answer', 'void', [p('channelId', 'path', true)])] },
      { path: '/channels/{channelId}/ring', operations: [op('POST', 'ring', 'void', [p('channelId', 'path', true)]), op('DELETE', 'ringStop', 'void', [p('channelId', 'path', true)])] },
      { path: '/channels/{channelId}/play', operations: [op('POST', 'play', 'Playback', [p('channelId', 'path', true), p('media', 'query', true), p('lang'), p('offsetms', 'query', false, 'int'), p('skipms', 'query', false, 'int'), p('playbackId')])] },
      { path: '/channels/{channelId}/play/{playbackId}', operations: [op('POST', 'playWithId', 'Playback', [p('channelId', 'path', true), p('playbackId', 'path', true), p('media', 'query', true), p('lang'), p('offsetms', 'query', false, 'int'), p('skipms', 'query', false, 'int')])] },
      { path: '/channels/{channelId}/variable', operations: [op('GET', 'getChannelVar', 'Variable', [p('channelId', 'path', true), p('variable', 'query', true)]), op('POST', 'setChannelVar', 'void', [p('channelId', 'path', true), p('variable', 'query', true), p('value')])] },
    ],
    models: {
      Channel: { id: 'Channel', properties: { id: { type: 'string', required: true }, name: { type: 'string' }, state: { type: 'string' }, caller: { type: 'CallerID' }, connected: { type: 'CallerID' }, dialplan: { type: 'DialplanCEP' }, creationtime: { type: 'Date' }, language: { type: 'string' } } },
      CallerID: { id: 'CallerID', properties: { name: { type: 'string' }, number: { type: 'string' } } },
      DialplanCEP: { id: 'DialplanCEP', properties: { context: { type: 'string' }, exten: { type: 'string' }, priority: { type: 'long' } } },
      Variable: { id: 'Variable', properties: { value: { type: 'string' } } },
      Playback: { id: 'Playback', properties: { id: { type: 'string' }, media_uri: { type: 'string' }, target_uri: { type: 'string' }, language: { type: 'string' }, state: { type: 'string' } } },
    },
  },
  playbacks: {
    apis: [
      { path: '/playbacks/{playbackId}', operations: [op('GET', 'get', 'Playback', [p('playbackId', 'path', true)]), op('DELETE', 'stop', 'void', [p('playbackId', 'path', true)])] },
      { path: '/playbacks/{playbackId}/control', operations: [op('POST', 'control', 'void', [p('playbackId', 'path', true), p('operation', 'query', true)])] },
    ],
    models: { Playback: { id: 'Playback', properties: { id: { type: 'string' }, media_uri: { type: 'string' }, target_uri: { type: 'string' }, state: { type: 'string' } } } },
  },
  bridges: {
    apis: [
      { path: '/bridges', operations: [op('GET', 'list', 'List[Bridge]'), op('POST', 'create', 'Bridge', [p('type'), p('bridgeId'), p('name')])] },
      { path: '/bridges/{bridgeId}', operations: [op('GET', 'get', 'Bridge', [p('bridgeId', 'path', true)]), op('DELETE', 'destroy', 'void', [p('bridgeId', 'path', true)])] },
      { path: '/bridges/{bridgeId}/addChannel', operations: [op('POST', 'addChannel', 'void', [p('bridgeId', 'path', true), p('channel', 'query', true)])] },
      { path: '/bridges/{bridgeId}/removeChannel', operations: [op('POST', 'removeChannel', 'void', [p('bridgeId', 'path', true), p('channel', 'query', true)])] },
    ],
    models: { Bridge: { id: 'Bridge', properties: { id: { type: 'string' }, channels: { type: 'List[string]' } } } },
  },
  sounds: {
    apis: [{ path: '/sounds', operations: [op('GET', 'list', 'List[Sound]', [p('lang'), p('format')])] }],
    models: { Sound: { id: 'Sound', properties: { id: { type: 'string' } } } },
  },
  events: {
    apis: [{ path: '/events', operations: [op('GET', 'eventWebsocket', 'Message', [p('app', 'query', true), p('subscribeAll', 'query', false, 'boolean')])] }],
    models: {
      Message: { id: 'Message', properties: { type: { type: 'string', required: true } } },
      StasisStart: { id: 'StasisStart', properties: { args: { type: 'List[string]' }, channel: { type: 'Channel' }, replace_channel: { type: 'Channel' } } },
      StasisEnd: { id: 'StasisEnd', properties: { channel: { type: 'Channel' } } },
      ChannelStateChange: { id: 'ChannelStateChange', properties: { channel: { type: 'Channel' } } },
      ChannelDtmfReceived: { id: 'ChannelDtmfReceived', properties: { digit: { type: 'string' }, duration_ms: { type: 'int' }, channel: { type: 'Channel' } } },
      ChannelHangupRequest: { id: 'ChannelHangupRequest', properties: { cause: { type: 'int' }, soft: { type: 'boolean' }, channel: { type: 'Channel' } } },
      ChannelDestroyed: { id: 'ChannelDestroyed', properties: { cause: { type: 'int' }, cause_txt: { type: 'string' }, channel: { type: 'Channel' } } },
      PlaybackStarted: { id: 'PlaybackStarted', properties: { playback: { type: 'Playback' } } },
      PlaybackFinished: { id: 'PlaybackFinished', properties: { playback: { type: 'Playback' } } },
      Dial: { id: 'Dial', properties: { dialstatus: { type: 'string' }, peer: { type: 'Channel' }, caller: { type: 'Channel' } } },
    },
  },
};

export function resourceListing(base: string): unknown {
  return {
    _copyright: 'Written for the ZHEDEL ONLINE test suite',
    apiVersion: '9.0.0',
    swaggerVersion: '1.1',
    basePath: base,
    apis: Object.keys(RESOURCES).map((name) => ({ path: `/api-docs/${name}.{format}`, description: name })),
  };
}

export function resourceDeclaration(name: string, base: string): unknown | null {
  const r = RESOURCES[name];
  if (!r) return null;
  return {
    apiVersion: '9.0.0',
    swaggerVersion: '1.2',
    basePath: base,
    resourcePath: `/api-docs/${name}.{format}`,
    apis: r.apis.map((a) => ({ path: a.path, description: a.path, operations: a.operations.map((o) => ({ ...o, summary: o.nickname })) })),
    models: r.models,
  };
}
