// The operators' console: objects with live status, trusted numbers with a block button, and
// the journal. Uses the same /v1/admin API as any other operator tool.
(function () {
  'use strict';
  var token = sessionStorage.getItem('zhedel.operator');
  var stream = null;
  var $ = function (id) { return document.getElementById(id); };
  var STATUS = { armed: 'под охраной', disarmed: 'снят с охраны', alarm: 'ТРЕВОГА', 'no-link': 'нет связи' };
  var STATE = { active: 'активен', pending: 'ожидает кода', blocked: 'заблокирован', removed: 'удалён' };

  function api(method, path, body) {
    var headers = { authorization: 'Bearer ' + token };
    if (body) headers['content-type'] = 'application/json'; // an empty JSON body is refused
    return fetch(path, { method: method, headers: headers, body: body ? JSON.stringify(body) : undefined })
      .then(function (r) { return r.json().then(function (j) { if (!r.ok) throw new Error((j.error && j.error.message) || r.statusText); return j; }); });
  }
  function cell(tr, text, cls) { var td = document.createElement('td'); td.textContent = text; if (cls) td.className = cls; tr.appendChild(td); return td; }
  function local(iso) { return new Date(iso).toLocaleString('ru-RU', { timeZone: 'Asia/Almaty' }); }

  function renderObjects(list) {
    var tb = $('objects'); tb.textContent = '';
    list.forEach(function (o) {
      var tr = document.createElement('tr'); tr.id = 'obj-' + o.code;
      cell(tr, o.code); cell(tr, String(o.clientId)); cell(tr, o.address);
      var s = cell(tr, ''); var span = document.createElement('span'); span.className = o.status; span.textContent = STATUS[o.status] || o.status; s.appendChild(span);
      cell(tr, local(o.since)); tb.appendChild(tr);
    });
  }
  function loadNumbers(clients) {
    var tb = $('numbers'); tb.textContent = '';
    return Promise.all(clients.map(function (c) { return api('GET', '/v1/admin/clients/' + c.id); })).then(function (all) {
      all.forEach(function (d) {
        d.numbers.filter(function (n) { return n.state !== 'removed'; }).forEach(function (n) {
          var tr = document.createElement('tr');
          cell(tr, n.phone); cell(tr, d.client.name); cell(tr, STATE[n.state] || n.state, n.state);
          var td = cell(tr, '');
          if (n.state === 'blocked') {
            var ub = document.createElement('button'); ub.textContent = 'Разблокировать';
            ub.onclick = function () { api('POST', '/v1/admin/numbers/' + encodeURIComponent(n.phone) + '/unblock').then(refresh).catch(fail); };
            td.appendChild(ub);
          } else {
            var b = document.createElement('button'); b.className = 'danger'; b.textContent = 'Заблокировать'; b.setAttribute('data-phone', n.phone);
            b.onclick = function () {
              if (!confirm('Заблокировать ' + n.phone + '? Номер сразу перестанет работать во всех каналах.')) return;
              api('POST', '/v1/admin/numbers/' + encodeURIComponent(n.phone) + '/block', { reason: 'lost' }).then(refresh).catch(fail);
            };
            td.appendChild(b);
          }
          tb.appendChild(tr);
        });
      });
    });
  }
  function loadJournal() {
    return api('GET', '/v1/admin/journal?limit=50').then(function (j) {
      var tb = $('journal'); tb.textContent = '';
      j.documents.forEach(function (r) {
        var tr = document.createElement('tr');
        cell(tr, String(r.seq)); cell(tr, local(r.at)); cell(tr, r.channel); cell(tr, r.phone || ''); cell(tr, r.objectCode || '');
        cell(tr, r.action); cell(tr, r.outcome + (r.reason ? ' (' + r.reason + ')' : '')); cell(tr, r.operator || r.auth);
        var td = cell(tr, '');
        // a code lives 5 minutes: older documents no longer wait for one
        if (r.outcome === 'challenged' && r.challengeId && (r.action === 'disarm' || r.action === 'arm') && Date.now() - Date.parse(r.at) < 300000) holdButton(td, r);
        tb.appendChild(tr);
      });
      return api('GET', '/v1/admin/journal/verify');
    }).then(function (v) { $('verify').textContent = v.ok ? '— цепочка цела (' + v.checked + ')' : '— ЦЕПОЧКА НАРУШЕНА на №' + v.problem.seq; });
  }
  var HOLD_STATE = { 'awaiting-code': 'ждёт код', pending: 'ждёт подтверждения', calling: 'звоним клиенту', confirmed: 'подтверждён, выполнен', refused: 'отклонён', expired: 'истёк', cancelled: 'отменён' };
  var HOLD_REASON = { always: 'всегда', window: 'ночное окно', 'new-number': 'новый номер', 'new-channel': 'новый канал', 'recent-refusal': 'недавний отказ', operator: 'оператор' };
  var ACTION = { disarm: 'снятие', arm: 'постановка' };
  function decideButton(td, h, decision, text, cls) {
    var b = document.createElement('button'); b.textContent = text; if (cls) b.className = cls;
    b.setAttribute('data-hold', String(h.id)); b.setAttribute('data-decision', decision);
    b.onclick = function () { api('POST', '/v1/admin/holds/' + h.id + '/' + decision).then(loadHolds).then(loadJournal).catch(fail); };
    td.appendChild(b);
  }
  function loadHolds() {
    return api('GET', '/v1/admin/holds?limit=30').then(function (j) {
      var tb = $('holds'); tb.textContent = '';
      j.holds.forEach(function (h) {
        var tr = document.createElement('tr'); tr.id = 'hold-' + h.id;
        cell(tr, String(h.id)); cell(tr, local(h.requestedAt)); cell(tr, h.objectCode); cell(tr, ACTION[h.action] || h.action);
        cell(tr, h.channel + ' ' + h.phone);
        cell(tr, h.reasons.split(',').map(function (r) { return HOLD_REASON[r] || r; }).join(', '));
        cell(tr, (HOLD_STATE[h.state] || h.state) + (h.decidedBy ? ' (' + h.decidedBy + ')' : ''), 'hold-' + h.state);
        var td = cell(tr, '');
        if (h.state === 'pending' || h.state === 'calling') { decideButton(td, h, 'confirm', 'Подтвердить'); decideButton(td, h, 'refuse', 'Отказать', 'danger'); }
        else if (h.state === 'awaiting-code') decideButton(td, h, 'refuse', 'Отказать', 'danger');
        tb.appendChild(tr);
      });
    });
  }
  var ALERT_KIND = { duress: 'ПРИНУЖДЕНИЕ (код под давлением)', 'confirmation-refused': 'запрос не подтверждён', access: 'попытка доступа', 'code-flood': 'поток кодов', 'alarm-unacknowledged': 'тревога без ответа', 'alarm-no-contact': 'тревога: некому звонить', 'not-armed': 'не под охраной по графику', 'off-schedule-disarm': 'снятие вне графика' };
  function loadAlerts() {
    return api('GET', '/v1/admin/alerts').then(function (j) {
      var tb = $('alerts'); tb.textContent = '';
      j.alerts.forEach(function (a) {
        var tr = document.createElement('tr'); tr.id = 'alert-' + a.id; tr.className = 'alert-' + a.kind;
        cell(tr, String(a.id)); cell(tr, local(a.createdAt)); cell(tr, ALERT_KIND[a.kind] || a.kind); cell(tr, a.objectCode || ''); cell(tr, a.phone || ''); cell(tr, a.detail || '');
        var td = cell(tr, ''); var b = document.createElement('button'); b.textContent = 'Принято'; b.setAttribute('data-alert', String(a.id));
        b.onclick = function () { api('POST', '/v1/admin/alerts/' + a.id + '/ack').then(loadAlerts).catch(fail); };
        td.appendChild(b); tb.appendChild(tr);
      });
    });
  }
  function holdButton(td, r) {
    var b = document.createElement('button'); b.textContent = 'Задержать'; b.title = 'После кода запрос будет ждать подтверждения клиента';
    b.setAttribute('data-document', r.challengeId);
    b.onclick = function () { api('POST', '/v1/admin/documents/' + encodeURIComponent(r.challengeId) + '/hold').then(loadHolds).catch(fail); };
    td.appendChild(b);
  }
  function fail(err) { $('appError').textContent = 'Ошибка: ' + err.message; }
  function refresh() {
    return api('GET', '/v1/admin/objects').then(function (o) { renderObjects(o.objects); return api('GET', '/v1/admin/clients'); })
      .then(function (c) { return loadNumbers(c.clients); }).then(loadAlerts).then(loadHolds).then(loadJournal).catch(fail);
  }
  // ---------------------------------------------------------------- schedules

  var WEEKDAYS = ['Понедельник', 'Вторник', 'Среда', 'Четверг', 'Пятница', 'Суббота', 'Воскресенье'];
  function scheduleUrl(rest) { return '/v1/admin/objects/' + encodeURIComponent($('scheduleObject').value) + '/schedule' + (rest || ''); }
  function scheduleFail(err) { $('scheduleError').textContent = 'Ошибка: ' + err.message; }
  function timeInput(id, value) { var i = document.createElement('input'); i.type = 'time'; i.id = id; i.value = value || ''; return i; }
  function renderSchedule(s) {
    $('scheduleError').textContent = '';
    $('scheduleState').textContent = s ? 'Изменён ' + local(s.updatedAt) + (s.updatedBy ? ', ' + s.updatedBy : '') : 'Графика нет: задайте время и сохраните.';
    var tb = $('scheduleDays'); tb.textContent = '';
    WEEKDAYS.forEach(function (name, i) {
      var day = s && s.days.filter(function (d) { return d.weekday === i + 1; })[0];
      var tr = document.createElement('tr'); cell(tr, name);
      cell(tr, '').appendChild(timeInput('sd-open-' + (i + 1), day && day.openFrom));
      cell(tr, '').appendChild(timeInput('sd-arm-' + (i + 1), day && day.armBy));
      tb.appendChild(tr);
    });
    $('scheduleSms').checked = s ? s.notifyOffSchedule : true;
    var ex = $('scheduleExceptions'); ex.textContent = '';
    (s ? s.exceptions : []).forEach(function (e) {
      var tr = document.createElement('tr'); tr.setAttribute('data-date', e.date);
      cell(tr, e.date);
      cell(tr, e.closed ? 'выходной' : [e.openFrom ? 'снятие с ' + e.openFrom : '', e.armBy ? 'охрана до ' + e.armBy : ''].filter(Boolean).join(', ') || 'без ограничений');
      cell(tr, e.note || '');
      var b = document.createElement('button'); b.textContent = 'Удалить'; b.className = 'danger';
      b.onclick = function () { api('DELETE', scheduleUrl('/exceptions/' + e.date), {}).then(function (r) { renderSchedule(r.schedule); }).catch(scheduleFail); };
      cell(tr, '').appendChild(b);
      ex.appendChild(tr);
    });
  }
  function loadSchedule() {
    if (!$('scheduleObject').value) return Promise.resolve();
    return api('GET', scheduleUrl()).then(function (r) { renderSchedule(r.schedule); }).catch(scheduleFail);
  }
  function initSchedules() {
    api('GET', '/v1/admin/objects').then(function (o) {
      var sel = $('scheduleObject'); sel.textContent = '';
      o.objects.forEach(function (x) { var opt = document.createElement('option'); opt.value = x.code; opt.textContent = x.code + ' — ' + x.address; sel.appendChild(opt); });
      return loadSchedule();
    }).catch(scheduleFail);
  }
  $('scheduleLoad').onsubmit = function (e) { e.preventDefault(); loadSchedule(); };
  $('scheduleObject').onchange = function () { loadSchedule(); };
  $('scheduleSave').onclick = function () {
    var days = [];
    for (var d = 1; d <= 7; d++) {
      var open = $('sd-open-' + d).value; var arm = $('sd-arm-' + d).value;
      if (open || arm) days.push({ weekday: d, openFrom: open || null, armBy: arm || null });
    }
    api('PUT', scheduleUrl(), { days: days, notifyOffSchedule: $('scheduleSms').checked }).then(function (r) { renderSchedule(r.schedule); loadJournal().catch(fail); }).catch(scheduleFail);
  };
  $('scheduleClear').onclick = function () {
    if (!confirm('Удалить график объекта ' + $('scheduleObject').value + ' со всеми исключениями?')) return;
    api('DELETE', scheduleUrl(), {}).then(function () { renderSchedule(null); loadJournal().catch(fail); }).catch(scheduleFail);
  };
  $('exceptionForm').onsubmit = function (e) {
    e.preventDefault();
    var body = $('exClosed').checked ? { closed: true } : { openFrom: $('exOpen').value || null, armBy: $('exArm').value || null };
    body.note = $('exNote').value.trim() || null;
    api('PUT', scheduleUrl('/exceptions/' + $('exDate').value), body).then(function (r) { renderSchedule(r.schedule); }).catch(scheduleFail);
  };

  // ---------------------------------------------------------------- alarm panels (SIA DC-09)

  // the form and the row buttons are for admins: the event stream's hello tells the operator's role
  // (the API refuses the changes to anyone else all the same)
  var panelsAdmin = false;
  var panelsShown = [];
  ALERT_KIND['no-link'] = 'нет связи с прибором';
  ALERT_KIND['panel-unknown'] = 'неизвестный прибор';
  function period(s) { return s % 3600 === 0 ? s / 3600 + ' ч' : s % 60 === 0 ? s / 60 + ' мин' : s + ' с'; }
  function panelUrl(code) { return '/v1/admin/objects/' + encodeURIComponent(code) + '/panel'; }
  function panelsFail(what) { return function (err) { $('panelsError').textContent = what + ': ' + err.message; }; }
  function panelButton(td, text, cls, onclick) {
    var b = document.createElement('button'); b.type = 'button'; b.textContent = text; if (cls) b.className = cls; b.onclick = onclick; td.appendChild(b); return b;
  }
  function editPanel(p) {
    $('panelObject').value = p.objectCode; $('panelAccount').value = p.account; $('panelSupervision').value = String(p.supervisionS);
    $('panelKey').value = ''; $('panelKey').disabled = false; $('panelClear').checked = false; $('panelsError').textContent = '';
    $('panelKey').focus();
  }
  function removePanel(p) {
    if (!confirm('Удалить прибор ' + p.account + ' объекта ' + p.objectCode + '? Его сигналы перестанут приниматься.')) return;
    $('panelsError').textContent = '';
    api('DELETE', panelUrl(p.objectCode)).then(loadPanels).then(loadJournal).catch(panelsFail('Не удалено'));
  }
  function renderPanels(list) {
    panelsShown = list;
    var tb = $('panels'); tb.textContent = '';
    list.forEach(function (p) {
      var lost = p.link === 'lost';
      var tr = document.createElement('tr'); tr.id = 'panel-' + p.account; tr.setAttribute('data-object', p.objectCode);
      if (lost) tr.className = 'panel-lost';
      cell(tr, p.account); cell(tr, p.objectCode); cell(tr, p.encrypted ? 'да' : 'нет'); cell(tr, period(p.supervisionS));
      if (lost) cell(tr, 'НЕТ СВЯЗИ с ' + (p.lostAt ? local(p.lostAt) : '—'), 'panel-lost-text');
      else cell(tr, 'на связи', 'panel-up');
      cell(tr, p.lastSeenAt ? local(p.lastSeenAt) : 'ещё не было');
      var td = cell(tr, '');
      if (panelsAdmin) {
        panelButton(td, 'Изменить', '', function () { editPanel(p); }).setAttribute('data-edit-panel', p.objectCode);
        panelButton(td, 'Удалить', 'danger', function () { removePanel(p); }).setAttribute('data-remove-panel', p.objectCode);
      }
      tb.appendChild(tr);
    });
  }
  function loadPanels() {
    return api('GET', '/v1/admin/panels').then(function (j) { renderPanels(j.panels); });
  }
  $('panelClear').onchange = function () {
    $('panelKey').disabled = $('panelClear').checked;
    if ($('panelClear').checked) $('panelKey').value = '';
  };
  $('panelForm').onsubmit = function (e) {
    e.preventDefault(); $('panelsError').textContent = '';
    // no key typed keeps the account's key; "без шифрования" sends null and clears it
    var body = { account: $('panelAccount').value.trim() };
    var key = $('panelKey').value.trim();
    if ($('panelClear').checked) body.key = null; else if (key) body.key = key;
    var supervision = $('panelSupervision').value.trim();
    if (supervision) body.supervisionS = Number(supervision);
    api('PUT', panelUrl($('panelObject').value.trim()), body).then(function () {
      $('panelKey').value = ''; $('panelKey').disabled = false; $('panelClear').checked = false;
      return loadPanels();
    }).then(loadJournal).catch(panelsFail('Не сохранено'));
  };
  function startPanels(s) {
    panelsAdmin = false; $('panelForm').hidden = true;
    s.addEventListener('hello', function (ev) {
      panelsAdmin = JSON.parse(ev.data).role === 'admin'; $('panelForm').hidden = !panelsAdmin; renderPanels(panelsShown);
    });
    s.addEventListener('object-status', function () { loadPanels().catch(panelsFail('Ошибка')); });
    s.addEventListener('operator-alert', function (ev) {
      var kind = JSON.parse(ev.data).kind;
      if (kind === 'no-link' || kind === 'panel-unknown') loadPanels().catch(panelsFail('Ошибка'));
    });
    loadPanels().catch(panelsFail('Ошибка'));
  }

  function start() {
    $('login').hidden = true; $('app').hidden = false;
    showTabs();
    refresh();
    initSchedules();
    stream = new EventSource('/v1/admin/events?access_token=' + encodeURIComponent(token));
    stream.addEventListener('hello', function (ev) { $('who').textContent = JSON.parse(ev.data).operator; });
    stream.addEventListener('object-status', function (ev) {
      var d = JSON.parse(ev.data); var row = $('obj-' + d.object);
      if (!row) { refresh(); return; }
      var span = row.children[3].firstChild; span.className = d.status; span.textContent = STATUS[d.status] || d.status;
      row.children[4].textContent = local(d.since); row.classList.remove('flash'); void row.offsetWidth; row.classList.add('flash');
      loadJournal().catch(fail);
    });
    stream.addEventListener('number-state', function () { refresh(); });
    stream.addEventListener('operator-alert', function () { loadAlerts().then(loadJournal).catch(fail); });
    stream.addEventListener('hold', function () { loadHolds().then(loadJournal).catch(fail); });
    startPanels(stream);
    // the operator was disabled, the token rotated or expired: back to sign-in
    stream.addEventListener('revoked', function () {
      stream.close(); stream = null; token = null; sessionStorage.removeItem('zhedel.operator');
      $('app').hidden = true; $('login').hidden = false; hideTabs();
      $('loginError').textContent = 'Доступ отозван или срок токена истёк. Войдите с новым токеном.';
    });
  }
  // ---- tabs, and the call history tab ("Звонки")
  var TABS = ['app', 'callsTab'];
  var PURPOSE = { client: 'звонок клиента', alarm: 'обзвон по тревоге', confirm: 'обратный звонок' };
  var OUTCOME = {
    acknowledged: 'тревога подтверждена (1)', 'no-answer': 'нет ответа', busy: 'занято', rejected: 'отклонён', 'no-key': 'ответил без нажатия 1',
    failed: 'не удался', goodbye: 'завершён клиентом', 'caller-hung-up': 'абонент положил трубку', operator: 'переведён оператору',
    'too-many-errors': 'много ошибок ввода', 'no-objects': 'нет объектов', error: 'техническая ошибка',
    'ari-disconnected': 'обрыв связи с АТС', shutdown: 'остановка сервиса',
  };
  var callsBefore = null;
  function showTab(id) {
    TABS.forEach(function (t) { $(t).hidden = t !== id; });
    Array.prototype.forEach.call($('tabs').querySelectorAll('button'), function (b) { b.classList.toggle('current', b.getAttribute('data-tab') === id); });
    if (id === 'callsTab') loadCalls(false);
  }
  function showTabs() { $('tabs').hidden = false; showTab('app'); }
  function hideTabs() { $('tabs').hidden = true; TABS.forEach(function (t) { $(t).hidden = true; }); }
  Array.prototype.forEach.call($('tabs').querySelectorAll('button'), function (b) { b.onclick = function () { showTab(b.getAttribute('data-tab')); }; });
  function outcomeText(c) {
    if (!c.endedAt) return 'не завершён';
    var o = c.outcome || '';
    if (o.indexOf('refused:') === 0) return 'отказ: ' + o.slice(8);
    return OUTCOME[o] || o;
  }
  // "по дату" includes that day: the API's `until` is exclusive
  function nextDay(day) {
    if (!day) return '';
    var d = new Date(day + 'T00:00:00Z'); d.setUTCDate(d.getUTCDate() + 1); return d.toISOString().slice(0, 10);
  }
  function callsQuery() {
    var q = [];
    var add = function (k, v) { if (v) q.push(k + '=' + encodeURIComponent(v)); };
    add('object', $('callObject').value.trim()); add('phone', $('callPhone').value.trim());
    add('from', $('callFrom').value); add('until', nextDay($('callUntil').value)); add('purpose', $('callPurpose').value);
    return q;
  }
  function loadCalls(more) {
    var q = callsQuery(); q.push('limit=50');
    if (more && callsBefore) q.push('before=' + callsBefore);
    $('callsError').textContent = '';
    return api('GET', '/v1/admin/calls?' + q.join('&')).then(function (r) {
      var tb = $('calls'); if (!more) tb.textContent = '';
      r.calls.forEach(function (c) {
        var tr = document.createElement('tr'); tr.setAttribute('data-call', c.id);
        cell(tr, local(c.startedAt)); cell(tr, c.endedAt ? local(c.endedAt) : '—');
        cell(tr, c.direction === 'in' ? 'входящий' : 'исходящий'); cell(tr, c.phone || 'скрыт'); cell(tr, c.objectCode || '');
        cell(tr, (PURPOSE[c.purpose] || c.purpose) + (c.eventId !== null ? ', событие ' + c.eventId + (c.round ? ', круг ' + c.round : '') : ''));
        cell(tr, c.actions.join('; '), 'actions');
        cell(tr, outcomeText(c), !c.endedAt ? 'call-unfinished' : c.outcome === 'acknowledged' || c.outcome === 'goodbye' ? 'call-ok' : c.purpose === 'alarm' ? 'call-bad' : '');
        tb.appendChild(tr);
      });
      callsBefore = r.before; $('callsMore').hidden = !r.before;
    }).catch(function (err) { $('callsError').textContent = 'Ошибка: ' + err.message; });
  }
  $('callFilters').onsubmit = function (e) { e.preventDefault(); loadCalls(false); };
  $('callsMore').onclick = function () { loadCalls(true); };

  $('loginForm').onsubmit = function (e) {
    e.preventDefault(); token = $('token').value.trim();
    api('GET', '/v1/admin/objects').then(function () { sessionStorage.setItem('zhedel.operator', token); start(); })
      .catch(function () { $('loginError').textContent = 'Неверный токен'; });
  };
  if (token) start();
})();
