// The API browser of /api/docs: fetches /api/v1/openapi.json and lists every operation
// with its parameters, request body and answers. No library; served from the binary.
"use strict";
(function () {
  const root = document.getElementById("api-docs");
  if (!root) return;
  const el = (tag, cls, text) => {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  };
  const refName = (s) => (s && s.$ref ? s.$ref.split("/").pop() : null);
  const schemaText = (doc, schema, depth) => {
    if (!schema) return "";
    const name = refName(schema);
    if (name) {
      if (depth > 1) return name;
      return name + " " + schemaText(doc, doc.components.schemas[name], depth + 1);
    }
    if (schema.type === "array" || (Array.isArray(schema.type) && schema.type.includes("array"))) {
      return "[" + schemaText(doc, schema.items, depth) + "]";
    }
    if (schema.properties) {
      const lines = Object.entries(schema.properties).map(([k, v]) => {
        const req = (schema.required || []).includes(k) ? "" : "?";
        const t = refName(v) || (Array.isArray(v.type) ? v.type.join("|") : v.type) || "object";
        return "  " + k + req + ": " + t + (v.description ? "  // " + v.description : "");
      });
      return "{\n" + lines.join("\n") + "\n}";
    }
    return Array.isArray(schema.type) ? schema.type.join("|") : schema.type || "";
  };
  fetch("/api/v1/openapi.json")
    .then((r) => r.json())
    .then((doc) => {
      root.textContent = "";
      const byTag = {};
      for (const [path, item] of Object.entries(doc.paths)) {
        for (const [method, op] of Object.entries(item)) {
          const tag = (op.tags && op.tags[0]) || "other";
          (byTag[tag] = byTag[tag] || []).push({ path, method, op });
        }
      }
      for (const [tag, ops] of Object.entries(byTag)) {
        const card = el("section", "card");
        card.appendChild(el("h2", null, tag));
        for (const { path, method, op } of ops) {
          const div = el("div", "op");
          const head = el("p");
          head.appendChild(el("span", "method", method.toUpperCase()));
          head.appendChild(el("span", "path", path));
          div.appendChild(head);
          if (op.summary || op.description) div.appendChild(el("p", "lead", op.summary || op.description));
          for (const p of op.parameters || []) {
            div.appendChild(el("p", "meta", p.in + " " + p.name + (p.required ? " (required)" : "") + (p.description ? ": " + p.description : "")));
          }
          const body = op.requestBody && op.requestBody.content && op.requestBody.content["application/json"];
          if (body) {
            div.appendChild(el("p", "meta", "Request body"));
            div.appendChild(el("pre", null, schemaText(doc, body.schema, 0)));
          }
          for (const [code, answer] of Object.entries(op.responses || {})) {
            const content = answer.content ? Object.values(answer.content)[0] : null;
            const line = code + " " + (answer.description || "") + (content ? " — " + (refName(content.schema) || schemaText(doc, content.schema, 2)) : "");
            div.appendChild(el("p", "meta", line));
          }
          card.appendChild(div);
        }
        root.appendChild(card);
      }
    })
    .catch((e) => { root.textContent = "Cannot load the API document: " + e; });
})();
