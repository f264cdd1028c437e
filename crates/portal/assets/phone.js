// The browser phone of /phone (pages/phone.rs): JsSIP registers over SIP over WebSocket
// (RFC 7118) at the portal's /ws, places and answers audio calls over WebRTC, sends DTMF
// and shows what it hears. No framework; the page works from its ids.
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const signin = $("phone-signin");
  const main = $("phone-main");
  const phoneState = $("phone-state");
  const panel = $("phone-call-panel");
  const callState = $("call-state");
  const callPeer = $("call-peer");
  const callTimer = $("call-timer");
  const level = $("remote-level");
  const mediaState = $("media-state");
  const answerButton = $("phone-answer");
  const errorLine = $("phone-error");
  const audio = $("phone-audio");

  // No STUN or TURN server: the relay of itsp answers ICE itself (ICE-lite) at addresses
  // the browser reaches, and a page must not send its users' addresses elsewhere.
  const pcConfig = { iceServers: [] };
  const mediaConstraints = { audio: true, video: false };

  let ua = null;
  let session = null;
  let timer = null;
  let meter = null;

  function setState(el, state, text) {
    el.dataset.state = state;
    el.textContent = text;
  }

  function showError(text) {
    errorLine.textContent = text;
    errorLine.hidden = !text;
  }

  function defaultServer() {
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    return scheme + location.host + "/ws";
  }

  // What JsSIP's failure causes mean to a person.
  function explain(cause) {
    switch (cause) {
      case JsSIP.C.causes.AUTHENTICATION_ERROR:
      case JsSIP.C.causes.REJECTED:
        return "wrong address or password";
      case JsSIP.C.causes.CONNECTION_ERROR:
        return "no answer from the server — is it running?";
      case JsSIP.C.causes.REQUEST_TIMEOUT:
        return "the server did not answer in time";
      case JsSIP.C.causes.BUSY:
        return "busy";
      case JsSIP.C.causes.NOT_FOUND:
        return "no such user or number";
      case JsSIP.C.causes.UNAVAILABLE:
        return "not available";
      case JsSIP.C.causes.NO_ANSWER:
        return "no answer";
      case JsSIP.C.causes.USER_DENIED_MEDIA_ACCESS:
        return "the browser was not allowed to use the microphone";
      case JsSIP.C.causes.INCOMPATIBLE_SDP:
      case JsSIP.C.causes.MISSING_SDP:
        return "the other side cannot take this browser's audio";
      default:
        return String(cause || "ended").toLowerCase();
    }
  }

  function register(address, password, server) {
    showError("");
    let socket;
    try {
      socket = new JsSIP.WebSocketInterface(server || defaultServer());
    } catch (e) {
      showError("The server address is not a WebSocket URL: " + e.message);
      return;
    }
    const at = address.indexOf("@");
    if (at <= 0 || at === address.length - 1) {
      showError("Your address is user@domain, for example alice@example.com.");
      return;
    }
    ua = new JsSIP.UA({
      sockets: [socket],
      uri: "sip:" + address,
      authorization_user: address.slice(0, at),
      password: password,
      register: true,
      session_timers: false,
      user_agent: "itsp browser phone (JsSIP " + JsSIP.version + ")",
    });
    ua.on("connecting", () => setState(phoneState, "connecting", "Connecting…"));
    ua.on("disconnected", () => setState(phoneState, "disconnected", "No connection to the server"));
    ua.on("registered", () => {
      setState(phoneState, "registered", "Signed in as " + address);
      showError("");
    });
    ua.on("unregistered", () => setState(phoneState, "unregistered", "Not signed in"));
    ua.on("registrationFailed", (e) => {
      setState(phoneState, "failed", "Not signed in");
      showError("Sign-in failed: " + explain(e.cause));
    });
    ua.on("newRTCSession", (e) => adopt(e.session, e.originator));
    ua.start();
    signin.hidden = true;
    main.hidden = false;
  }

  function adopt(s, originator) {
    if (session) {
      // One call at a time: a second incoming call is told we are busy.
      if (originator === "remote") s.terminate({ status_code: 486 });
      return;
    }
    session = s;
    panel.hidden = false;
    callPeer.textContent = s.remote_identity.uri.toString();
    if (s.connection) watchMedia(s.connection);
    s.on("peerconnection", (e) => watchMedia(e.peerconnection));
    // An incoming call's own 180 is a "progress" too: it stays "incoming".
    s.on("progress", () => {
      if (s.direction === "outgoing") setState(callState, "ringing", "ringing");
    });
    s.on("accepted", () => setState(callState, "answered", "answered"));
    s.on("confirmed", () => {
      setState(callState, "connected", "connected");
      startTimer();
    });
    s.on("ended", (e) => finish("ended", e.originator === "local" ? "you hung up" : "the other side hung up"));
    s.on("failed", (e) => finish("failed", explain(e.cause)));
    if (originator === "remote") {
      setState(callState, "incoming", "incoming call");
      answerButton.hidden = false;
    } else {
      setState(callState, "calling", "calling");
    }
  }

  const watched = new WeakSet();

  function watchMedia(pc) {
    if (watched.has(pc)) return;
    watched.add(pc);
    // The media path's state (ICE and DTLS), where "no audio" shows first.
    const showMedia = () => setState(mediaState, pc.connectionState, pc.connectionState);
    pc.addEventListener("connectionstatechange", showMedia);
    showMedia();
    pc.addEventListener("track", (e) => {
      const stream = e.streams[0] || new MediaStream([e.track]);
      audio.srcObject = stream;
      startMeter(stream);
    });
  }

  // The level and the strongest frequency of what the other side sends, from a WebAudio
  // analyser: the meter shows the level, its data-peak-hz the frequency.
  function startMeter(stream) {
    stopMeter();
    const context = new AudioContext();
    const source = context.createMediaStreamSource(stream);
    const analyser = context.createAnalyser();
    analyser.fftSize = 8192;
    source.connect(analyser);
    const spectrum = new Float32Array(analyser.frequencyBinCount);
    const samples = new Float32Array(analyser.fftSize);
    const interval = setInterval(() => {
      analyser.getFloatTimeDomainData(samples);
      let sum = 0;
      for (const x of samples) sum += x * x;
      const rms = Math.sqrt(sum / samples.length);
      analyser.getFloatFrequencyData(spectrum);
      let best = 0;
      for (let i = 1; i < spectrum.length; i++) if (spectrum[i] > spectrum[best]) best = i;
      const hz = Math.round((best * context.sampleRate) / analyser.fftSize);
      level.value = Math.min(1, rms * 4);
      level.dataset.rms = rms.toFixed(4);
      level.dataset.peakHz = rms > 0.005 ? String(hz) : "0";
      level.textContent = rms > 0.005 ? hz + " Hz" : "silence";
    }, 200);
    meter = { context, interval };
  }

  function stopMeter() {
    if (!meter) return;
    clearInterval(meter.interval);
    meter.context.close();
    meter = null;
  }

  function startTimer() {
    const start = Date.now();
    timer = setInterval(() => {
      const s = Math.floor((Date.now() - start) / 1000);
      callTimer.textContent = Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0");
    }, 1000);
  }

  function finish(state, why) {
    setState(callState, state, state === "failed" ? "failed: " + why : "ended: " + why);
    answerButton.hidden = true;
    clearInterval(timer);
    stopMeter();
    session = null;
  }

  $("phone-login").addEventListener("submit", (e) => {
    e.preventDefault();
    register($("phone-address").value.trim(), $("phone-password").value, $("phone-server").value.trim());
  });

  $("phone-logout").addEventListener("click", () => {
    if (ua) ua.stop();
    ua = null;
    main.hidden = true;
    signin.hidden = false;
  });

  $("phone-dial").addEventListener("submit", (e) => {
    e.preventDefault();
    if (!ua || session) return;
    const target = $("phone-target").value.trim();
    if (!target) return;
    showError("");
    try {
      ua.call(target, { mediaConstraints, pcConfig });
    } catch (err) {
      showError("Cannot call " + target + ": " + err.message);
    }
  });

  answerButton.addEventListener("click", () => {
    if (session) session.answer({ mediaConstraints, pcConfig });
    answerButton.hidden = true;
  });

  $("phone-hangup").addEventListener("click", () => {
    if (session) session.terminate();
  });

  $("phone-keypad").addEventListener("click", (e) => {
    const key = e.target.dataset && e.target.dataset.key;
    if (!key || !session || !session.isEstablished()) return;
    // RFC 4733 events in the audio stream where the browser can send them, else SIP INFO.
    const rtp = session.connection && session.connection.getSenders().some((s) => s.dtmf);
    session.sendDTMF(key, { transportType: rtp ? "RFC2833" : "INFO" });
  });

  addEventListener("beforeunload", () => {
    if (ua) ua.stop();
  });
})();
