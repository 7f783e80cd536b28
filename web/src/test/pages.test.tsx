// The sheet's derived numbers, the assistant's citation links, rule snippets, and the app's
// per-route behaviour (page views, focus), on real api answers.
import { act, render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { MemoryRouter } from "react-router-dom";
import { describe, expect, it, vi } from "vitest";
import { saveSession } from "../api/client";
import { App } from "../App";
import { AuthProvider } from "../auth";
import { plainSnippet, Snippet } from "../components/common";
import { SheetView } from "../components/SheetView";
import { withCitations } from "../pages/Assistant";
import { entryPath } from "../pages/RulesSearch";
import { rum } from "../rum";
import { fixtures, jsonResponse } from "./fixtures";

describe("the character sheet", () => {
  it("shows every derived number of the README's cleric", () => {
    const { sheet } = fixtures.character();
    render(
      <MemoryRouter>
        <SheetView sheet={sheet} />
      </MemoryRouter>,
    );
    const stats = document.querySelector<HTMLElement>('dl[aria-label="Combat numbers"]')!;
    const stat = (label: string) => within(stats).getByText(label).nextElementSibling!.textContent;
    expect(stat("Armor Class")).toMatch(/^18Chain Mail \+ Shield/);
    expect(stat("Hit Points")).toMatch(/^11Hit dice 1d8/);
    expect(stat("Speed")).toBe("25 ft");
    expect(stat("Initiative")).toBe("−1");
    expect(stat("Proficiency")).toBe("+2");
    expect(stat("Passive Perception")).toBe("13");
    // abilities with modifiers: WIS 16 (+3), CON 15 (+2)
    const abilities = screen.getByRole("region", { name: "Ability scores" });
    expect(within(abilities).getByText("Wisdom").parentElement!.textContent).toMatch(/\+3.*16/);
    expect(within(abilities).getByText("Constitution").parentElement!.textContent).toMatch(/\+2.*15.*racial \+2/);
    // saves and skills with proficiency
    const wisSave = screen.getAllByText((_, el) => el?.tagName === "LI" && /^●\+5 Wisdom/.test(el.textContent ?? ""));
    expect(wisSave).toHaveLength(1);
    const insight = screen.getByText((_, el) => el?.tagName === "LI" && /Insight/.test(el.textContent ?? "") && /\+5/.test(el.textContent ?? ""));
    expect(insight.textContent).toMatch(/proficient/);
    // spellcasting: DC, attack, slots, spells linked to their rule entries
    expect(screen.getByText(/spell save DC/).textContent).toMatch(/spell save DC 13, spell attack \+5, prepares up to 4/);
    expect(screen.getByText(/Spell slots:/).parentElement!.textContent).toMatch(/level 1: 2/);
    expect(screen.getByRole("link", { name: "Healing Word" }).getAttribute("href")).toBe("/rules/spell/healing-word");
    expect(screen.getByRole("link", { name: "Bless" })).toBeTruthy(); // always prepared
    // languages, proficiencies, features
    expect(screen.getByText("Common, Dwarvish, Elvish, Celestial")).toBeTruthy();
    expect(screen.getByText("Armor", { selector: "dt" }).nextElementSibling!.textContent).toBe("Light Armor, Medium Armor, Shields, Heavy Armor");
    expect(screen.getByText("Dwarven Toughness")).toBeTruthy();
  });
});

describe("rule search and the assistant", () => {
  it("renders snippet marks as marks and any other markup as text", () => {
    const { container } = render(<Snippet text={'a <mark>grappled</mark> <img src=x onerror="alert(1)"> b'} />);
    expect(container.querySelectorAll("mark")).toHaveLength(1);
    expect(container.querySelector("img")).toBeNull();
    expect(container.textContent).toContain('<img src=x onerror="alert(1)">');
  });

  it("drops the SRD's Markdown punctuation from snippets, keeping the marks", () => {
    const hit = fixtures.rulesSearch().items.find((i) => i.index === "making-an-attack")!;
    expect(hit.snippet).toContain("#### <mark>Grappling</mark>");
    const { container } = render(<Snippet text={hit.snippet} />);
    expect(container.textContent).not.toContain("#");
    expect(container.querySelector("mark")?.textContent).toBe("Grappling");
    expect(plainSnippet("***Grasping Hand.*** The hand\n\nattempts")).toBe("Grasping Hand. The hand\nattempts");
  });

  it("links the api's rule urls to this app's entry pages", () => {
    expect(entryPath("/api/rules/condition/grappled")).toBe("/rules/condition/grappled");
    const hit = fixtures.rulesSearch().items[0];
    expect(entryPath(hit.url, hit.kind, hit.index)).toBe(`/rules/${hit.kind}/${hit.index}`);
  });

  it("turns the answer's [n] markers into links to the cited entries", () => {
    const answer = fixtures.assistantAnswer();
    const line = answer.answer.split("\n").find((l) => l.includes("[2]"))!;
    render(<MemoryRouter>{withCitations(line, answer.citations)}</MemoryRouter>);
    const link = screen.getByRole("link", { name: "Source 2: Making an Attack, Grappling" });
    expect(link.getAttribute("href")).toBe("/rules/rule/making-an-attack");
    expect(link.textContent).toBe("[2]");
    expect(screen.getByText("Making an Attack — Grappling").tagName).toBe("STRONG");
  });
});

describe("the app frame", () => {
  function renderApp(path: string, signedIn: boolean) {
    if (signedIn) saveSession({ token: "tok", expiresAt: new Date(Date.now() + 3_600_000).toISOString(), email: "a@b.c" });
    vi.stubGlobal(
      "fetch",
      vi.fn(async (url: string) => {
        if (url.startsWith("/api/characters/drafts")) return jsonResponse([]);
        if (url.startsWith("/api/characters")) return jsonResponse({ items: [], total: 0, limit: 100, offset: 0 });
        return jsonResponse([]);
      }),
    );
    render(
      <MemoryRouter initialEntries={[path]}>
        <AuthProvider>
          <App />
        </AuthProvider>
      </MemoryRouter>,
    );
  }

  it("sends a page view per route with the user type, and moves focus to the new page's heading", async () => {
    const user = userEvent.setup();
    const views = vi.spyOn(rum, "pageView");
    renderApp("/characters", true);
    expect(await screen.findByRole("heading", { name: "My characters", level: 1 })).toBeTruthy();
    expect(views).toHaveBeenLastCalledWith("characters", true);
    await user.click(screen.getByRole("link", { name: "Rules" }));
    const heading = await screen.findByRole("heading", { name: "Search the rules", level: 1 });
    expect(views).toHaveBeenLastCalledWith("rules-search", true);
    await waitFor(() => expect(document.activeElement).toBe(heading));
  });

  it("focuses the wizard step's heading once the draft has loaded", async () => {
    const user = userEvent.setup();
    const draft = fixtures.draftClericChoices();
    saveSession({ token: "tok", expiresAt: new Date(Date.now() + 3_600_000).toISOString(), email: "a@b.c" });
    let release: () => void = () => {};
    const loaded = new Promise<void>((resolve) => (release = resolve));
    let draftRequests = 0;
    vi.stubGlobal(
      "fetch",
      vi.fn(async (url: string) => {
        if (url === "/api/characters/drafts") return jsonResponse([{ ...draft, choices: undefined }]);
        if (url.startsWith("/api/characters/drafts/")) {
          // The wizard page's own request arrives after it has rendered its loading state (the
          // resume redirect's request answers at once).
          if (++draftRequests > 1) await loaded;
          return jsonResponse(draft);
        }
        if (url.startsWith("/api/characters")) return jsonResponse({ items: [], total: 0, limit: 100, offset: 0 });
        return jsonResponse([]);
      }),
    );
    render(
      <MemoryRouter initialEntries={["/characters"]}>
        <AuthProvider>
          <App />
        </AuthProvider>
      </MemoryRouter>,
    );
    await user.click(await screen.findByRole("link", { name: /Resume/ }));
    await waitFor(() => expect(draftRequests).toBe(2)); // the wizard page asked for the draft
    expect(screen.getByText("Opening the draft…")).toBeTruthy();
    // let the route's focus attempt run while there is no heading yet
    await act(() => new Promise<void>((resolve) => requestAnimationFrame(() => requestAnimationFrame(() => resolve()))));
    expect(screen.queryByRole("heading", { name: /Step 5 of 9/ })).toBeNull();
    release();
    const heading = await screen.findByRole("heading", { name: /Step 5 of 9: Proficiencies/ });
    await waitFor(() => expect(document.activeElement).toBe(heading));
  });

  it("sends anonymous visitors to sign in, keeping where they wanted to go", async () => {
    const views = vi.spyOn(rum, "pageView");
    renderApp("/characters", false);
    expect(await screen.findByRole("heading", { name: "Welcome back" })).toBeTruthy();
    expect(views).toHaveBeenCalledWith("sign-in", false);
    expect(screen.getByRole("link", { name: "Sign up" })).toBeTruthy();
  });
});
