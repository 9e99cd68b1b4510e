import { test, expect, Page } from "@playwright/test";

import { castVote, typePrompt, waitForBothDone } from "./helpers";

async function fillCredentials(page: Page, username: string, password: string) {
  await page.waitForLoadState("networkidle");
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password").fill(password);
}

test("sign up keeps the votes cast before; sign out; sign in again", async ({ page }) => {
  // An anonymous battle and vote.
  await page.goto("/");
  await typePrompt(page, "Say hello.", "Start battle");
  await page.getByRole("button", { name: "Start battle" }).click();
  await waitForBothDone(page);
  await castVote(page, "model_b");
  await expect(page.locator(".reveal")).toBeVisible();
  const battle = new URL(page.url()).searchParams.get("battle");
  expect(battle).toBeTruthy();

  // Sign up: the vote becomes the account's.
  const username = `e2e${Date.now()}`;
  await page.goto("/signup");
  await expect(page.locator(".me")).toHaveText("Sign in");
  await fillCredentials(page, username, "correct horse battery");
  await page.getByRole("button", { name: "Sign up" }).click();
  await expect(page.locator(".me")).toHaveText(username);
  const r = await page.request.get(`/api/v1/battles/${battle}`);
  expect(r.status()).toBe(200);
  expect((await r.json()).turns[0].winner).toBe("model_b");
  await page.goto("/account");
  await expect(page.locator(".who")).toContainText(`Signed in as ${username} (volunteer)`);
  await expect(page.locator(".votes")).toHaveText("Votes: 1");

  // Sign out: the session ends on the server.
  await page.waitForLoadState("networkidle");
  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page.locator(".me")).toHaveText("Sign in");
  expect((await page.request.get("/api/v1/account")).status()).toBe(401);

  // Sign in: a wrong password is said plainly; the right one signs in, votes still counted.
  await page.goto("/signin");
  await fillCredentials(page, username, "wrong password!");
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.locator(".notice.failure")).toContainText("unknown username or wrong password");
  await page.getByLabel("Password").fill("correct horse battery");
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.locator(".me")).toHaveText(username);
  await page.goto("/account");
  await expect(page.locator(".votes")).toHaveText("Votes: 1");

  // Delete the account and its data: the password is asked again; then the browser is
  // signed out, the account is gone and the battle has no text left (docs/privacy.md).
  const erase = page.locator("form.erase");
  await page.waitForLoadState("networkidle");
  await erase.getByLabel("Current password").fill("not my password");
  await erase.getByRole("button", { name: "Delete my account and data" }).click();
  await expect(page.locator(".notice.failure")).toContainText("the current password is wrong");
  await erase.getByLabel("Current password").fill("correct horse battery");
  await erase.getByRole("button", { name: "Delete my account and data" }).click();
  await expect(page.locator(".me")).toHaveText("Sign in");
  expect((await page.request.get("/api/v1/account")).status()).toBe(401);
  const gone = await page.request.post("/api/v1/account/signin", {
    data: { username, password: "correct horse battery" },
  });
  expect(gone.status()).toBe(401);
});
