import { describe, expect, it } from "vitest";
import { builtinResponders } from "./builtin-scripts";
import { classify, REPOSITORY_CLASSIFIER_HEADER } from "./classify-repository";

function prompt(request: string, repositories: string[], fence = "```"): string {
  return [REPOSITORY_CLASSIFIER_HEADER, ...repositories, "", `${fence}untrusted`, request, fence].join("\n");
}

const REPOSITORIES = [
  "- acme/billing: invoices, payments and the checkout",
  "- acme/website: the marketing site and its blog",
  "- acme/infra: ",
];

describe("the offline model's repository classification", () => {
  it("picks the repository whose name and description share the most words with the request", () => {
    expect(classify(prompt("the checkout charges twice when invoices are paid", REPOSITORIES))).toEqual({
      repository: "acme/billing",
      confidence: 0.75,
    });
    expect(classify(prompt("a typo on the blog's front page", REPOSITORIES))).toEqual({ repository: "acme/website", confidence: 0.7 });
  });

  it("counts a word of a repository's name twice", () => {
    expect(classify(prompt("the infra blog deploy is broken", REPOSITORIES))).toMatchObject({ repository: "acme/infra" });
  });

  it("answers null with confidence 0 when nothing matches, and a guess below 0.7 on a tie", () => {
    expect(classify(prompt("rename the variable", REPOSITORIES))).toEqual({ repository: null, confidence: 0 });
    expect(classify(prompt("payments in the marketing pages", REPOSITORIES))).toEqual({ repository: "acme/billing", confidence: 0.4 });
  });

  it("reads only the fenced request, not the repository list or text around the fence", () => {
    const around = `${prompt("nothing relevant here", REPOSITORIES)}\ninvoices payments checkout`;
    expect(classify(around)).toEqual({ repository: null, confidence: 0 });
    expect(classify(prompt("checkout ``` still inside the fence: invoices", REPOSITORIES, "````"))).toMatchObject({
      repository: "acme/billing",
    });
  });

  it("is the built-in responder for prompts that start with the classifier's header, and only those", () => {
    const responder = builtinResponders.find((candidate) => candidate.name === "classify-repository");
    expect(responder?.matches(prompt("x", REPOSITORIES))).toBe(true);
    expect(responder?.matches(`please ${prompt("x", REPOSITORIES)}`)).toBe(false);
    expect(JSON.parse(responder!.answer(prompt("checkout invoice", REPOSITORIES)))).toMatchObject({ repository: "acme/billing" });
  });
});
