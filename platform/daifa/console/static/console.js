// The console's one script: the browser wallet (EIP-1193, window.ethereum) signs in (EIP-4361 via
// personal_sign), signs typed data (eth_signTypedData_v4) and sends a deposit's transactions
// (eth_sendTransaction, each mined before the next); everything else is plain forms.
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

async function receiptOf(hash) {
  // The wallet's node answers null until the transaction is mined.
  for (;;) {
    const receipt = await wallet().request({ method: "eth_getTransactionReceipt", params: [hash] });
    if (receipt) return receipt;
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

async function sendTransactions(button) {
  try {
    const transactions = JSON.parse(document.getElementById("wallet-transactions").textContent);
    const [from] = await wallet().request({ method: "eth_requestAccounts" });
    for (const [n, tx] of transactions.entries()) {
      say("send-status", `Confirm ${n + 1} of ${transactions.length} in your wallet: ${tx.description}…`);
      const hash = await wallet().request({ method: "eth_sendTransaction", params: [{ from, to: tx.to, data: tx.data }] });
      say("send-status", `Waiting for ${tx.description} (${hash}) to be mined…`);
      const receipt = await receiptOf(hash);
      if (receipt.status !== "0x1") throw new Error(`${tx.description} failed on chain (${hash})`);
    }
    say("send-status", "Sent. The deposit shows on the plan once the platform has read it from the chain.");
    window.location.assign(button.dataset.sendTransactions);
  } catch (error) {
    say("send-status", "Not sent: " + (error.message || error));
  }
}

// The wallet's buttons come disabled, so that none is pressed before it does anything; each is enabled
// once its handler is attached.
function wire(selector, handler) {
  const button = document.querySelector(selector);
  if (!button) return;
  button.addEventListener("click", () => handler(button));
  button.disabled = false;
}

document.addEventListener("DOMContentLoaded", () => {
  wire("[data-wallet-sign-in]", signIn);
  wire("[data-sign-typed]", signTyped);
  wire("[data-send-transactions]", sendTransactions);
});
