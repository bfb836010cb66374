// The online chat: sign in with a trusted number and the code sent to it by SMS, then type the
// same commands as by SMS. Status changes arrive live over Server-Sent Events.
(function () {
  'use strict';
  var T = {
    ru: { phone: 'Доверенный номер телефона', getCode: 'Получить код', code: 'Код из SMS', signIn: 'Войти', send: 'Отправить',
      hint: 'Команды: СТАТУС, ОХРАНА код, СНЯТЬ код, БАЛАНС, ПОМОЩЬ. Код подтверждения введите отдельным сообщением.',
      logout: 'Выйти', other: 'Қазақша', sent: 'Если номер подключён, код отправлен по SMS.', ended: 'Сеанс завершён. Войдите снова.',
      status: { armed: 'под охраной', disarmed: 'снят с охраны', alarm: 'ТРЕВОГА', 'no-link': 'нет связи' }, object: 'Объект', failed: 'Ошибка: ' },
    kk: { phone: 'Сенімді телефон нөмірі', getCode: 'Код алу', code: 'SMS-тағы код', signIn: 'Кіру', send: 'Жіберу',
      hint: 'Командалар: КҮЙ, КҮЗЕТ код, АЛУ код, БАЛАНС, КӨМЕК. Растау кодын бөлек хабарламамен жіберіңіз.',
      logout: 'Шығу', other: 'Русский', sent: 'Нөмір қосылған болса, код SMS арқылы жіберілді.', ended: 'Сеанс аяқталды. Қайта кіріңіз.',
      status: { armed: 'күзетте', disarmed: 'күзеттен алынған', alarm: 'ДАБЫЛ', 'no-link': 'байланыс жоқ' }, object: 'Нысан', failed: 'Қате: ' }
  };
  var lang = localStorage.getItem('zhedel.lang') || 'ru';
  var token = sessionStorage.getItem('zhedel.token');
  var phone = '';
  var stream = null;
  var $ = function (id) { return document.getElementById(id); };

  function applyLang() {
    document.documentElement.lang = lang;
    document.querySelectorAll('[data-t]').forEach(function (el) { el.textContent = T[lang][el.getAttribute('data-t')]; });
    $('lang').textContent = T[lang].other;
    $('logout').textContent = T[lang].logout;
  }
  function add(text, cls) {
    var div = document.createElement('div');
    div.className = 'msg ' + cls;
    div.textContent = text;
    $('log').appendChild(div);
    $('log').scrollTop = $('log').scrollHeight;
  }
  function api(method, path, body) {
    var headers = { 'content-type': 'application/json' };
    if (token) headers.authorization = 'Bearer ' + token;
    return fetch(path, { method: method, headers: headers, body: body ? JSON.stringify(body) : undefined }).then(function (r) {
      if (r.status === 204) return {};
      return r.json().then(function (j) {
        if (r.status === 401 && token) { ended(); }
        if (!r.ok) { var e = new Error((j.error && j.error.message) || r.statusText); e.code = j.error && j.error.code; throw e; }
        return j;
      });
    });
  }
  function showChat() {
    $('signin').hidden = true; $('chat').hidden = false; $('logout').hidden = false;
    if (stream) stream.close();
    // EventSource cannot send headers: the token goes in the query of this one URL only
    stream = new EventSource('/v1/events?access_token=' + encodeURIComponent(token));
    stream.addEventListener('object-status', function (ev) {
      var d = JSON.parse(ev.data);
      add(T[lang].object + ' ' + d.object + ': ' + (T[lang].status[d.status] || d.status), 'event');
    });
    stream.addEventListener('revoked', function () { ended(); });
  }
  function ended() {
    if (stream) { stream.close(); stream = null; }
    token = null; sessionStorage.removeItem('zhedel.token');
    $('chat').hidden = true; $('signin').hidden = false; $('logout').hidden = true;
    $('codeForm').hidden = true; $('phoneForm').hidden = false;
    $('signinError').textContent = T[lang].ended;
  }
  $('lang').onclick = function () { lang = lang === 'ru' ? 'kk' : 'ru'; localStorage.setItem('zhedel.lang', lang); applyLang(); };
  $('phoneForm').onsubmit = function (e) {
    e.preventDefault(); $('signinError').textContent = '';
    phone = $('phone').value;
    api('POST', '/v1/auth/otp', { phone: phone, channel: 'chat' }).then(function () {
      $('phoneForm').hidden = true; $('codeForm').hidden = false; $('signinError').textContent = T[lang].sent; $('code').focus();
    }).catch(function (err) { $('signinError').textContent = T[lang].failed + err.message; });
  };
  $('codeForm').onsubmit = function (e) {
    e.preventDefault(); $('signinError').textContent = '';
    api('POST', '/v1/auth/verify', { phone: phone, code: $('code').value, channel: 'chat' }).then(function (r) {
      token = r.token; sessionStorage.setItem('zhedel.token', token); $('code').value = ''; showChat();
    }).catch(function (err) { $('signinError').textContent = T[lang].failed + err.message; });
  };
  $('sendForm').onsubmit = function (e) {
    e.preventDefault(); $('chatError').textContent = '';
    var text = $('text').value; if (!text.trim()) return;
    add(text, 'me'); $('text').value = '';
    api('POST', '/v1/chat', { text: text }).then(function (r) { if (r.reply) add(r.reply, 'bot'); })
      .catch(function (err) { $('chatError').textContent = T[lang].failed + err.message; });
  };
  $('logout').onclick = function () { api('POST', '/v1/auth/logout').finally(ended); };
  applyLang();
  if (token) showChat();
})();
