import { expect, Page } from "@playwright/test";

export const answers = (page: Page) => page.locator(".turn").last().locator(".answer");

// Types into the prompt box once the page has hydrated (before that, typing does not reach the
// page's state and the button stays disabled): retried until the button enables.
export async function typePrompt(page: Page, text: string, button: string) {
  const box = page.locator("textarea[name=prompt]");
  await expect(async () => {
    await box.fill("");
    await box.fill(text);
    await expect(page.getByRole("button", { name: button })).toBeEnabled({ timeout: 1000 });
  }).toPass({ timeout: 60_000 });
}

export async function waitForBothDone(page: Page) {
  await expect(answers(page).nth(0)).toHaveAttribute("data-status", "done");
  await expect(answers(page).nth(1)).toHaveAttribute("data-status", "done");
}

// Votes with the button; the first vote of a browser shows the terms first, accepted here.
export async function castVote(page: Page, winner: string) {
  await page.locator(`button.vote[data-winner=${winner}]`).click();
  const agree = page.getByRole("button", { name: "I agree — record my vote" });
  const voted = page.locator(".turn").last().locator(".voted");
  await expect(voted.or(agree)).toBeVisible();
  if (await agree.isVisible()) {
    await agree.click();
  }
  await expect(voted).toHaveAttribute("data-winner", winner);
}
