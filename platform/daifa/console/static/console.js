// The console's one script: the browser wallet (EIP-1193, window.ethereum) signs in (EIP-4361 via
// personal_sign) and signs typed data (eth_signTypedData_v4); everything else is plain forms.
"use strict";

function csrf() {
  const main = document.getElementById("main");
  return main ? main.dataset.csrf || "" : "";
}

function say(id, text) {
  const el = document.getElementById(id);
  if (el) el.textContent = text;
}

async function postJson(url, body) {
  const response = await fetch(url, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf(), Accept: "application/json" },
    body: JSON.stringify(body),
  });
  const type = response.headers.get("content-type") || "";
  if (!response.ok) {
    let detail = "the platform refused it (" + response.status + ")";
    if (type.includes("json")) {
      const problem = await response.json();
      detail = problem.detail || JSON.stringify(problem.problems || problem);
    } else {
      const page = new DOMParser().parseFromString(await response.text(), "text/html");
      const alert = page.querySelector("[role=alert]");
      if (alert) detail = alert.textContent;
    }
    throw new Error(detail);
  }
  return response.json();
}

function wallet() {
  if (!window.ethereum) throw new Error("no browser wallet found: install one, or open this page in your wallet's browser");
  return window.ethereum;
}

function toHex(text) {
  return "0x" + Array.from(new TextEncoder().encode(text), (b) => b.toString(16).padStart(2, "0")).join("");
}

async function signIn() {
  say("wallet-status", "Asking your wallet for its account…");
  try {
    const [address] = await wallet().request({ method: "eth_requestAccounts" });
    const { message } = await postJson("/console/sign-in/wallet/message", { address });
    say("wallet-status", "Sign the message in your wallet…");
    const signature = await wallet().request({ method: "personal_sign", params: [toHex(message), address] });
    const { next } = await postJson("/console/sign-in/wallet", { message, signature });
    window.location.assign(next);
  } catch (error) {
    say("wallet-status", "Not signed in: " + (error.message || error));
  }
}

async function signTyped(button) {
  say("sign-status", "Check the terms in your wallet and sign…");
  try {
    const typed = document.getElementById("typed-data").textContent;
    const [address] = await wallet().request({ method: "eth_requestAccounts" });
    const signature = await wallet().request({ method: "eth_signTypedData_v4", params: [address, typed] });
    say("sign-status", "Sending your signature…");
    const { next } = await postJson(button.dataset.signTyped, { signature });
    window.location.assign(next);
  } catch (error) {
    say("sign-status", "Not signed: " + (error.message || error));
  }
}

document.addEventListener("DOMContentLoaded", () => {
  const signInButton = document.querySelector("[data-wallet-sign-in]");
  if (signInButton) signInButton.addEventListener("click", signIn);
  const signButton = document.querySelector("[data-sign-typed]");
  if (signButton) signButton.addEventListener("click", () => signTyped(signButton));
});
