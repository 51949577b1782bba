// reset.js - a one-time reset code redeemed at sign-in (POST /api/v1/auth/reset {username, code,
// new_password}): a second card on the console's sign-in overlay, built when first asked for (the
// link is admin.js's). A supervisor generates the code (users.js) and tells the person, who sets a
// new password here; every session of the user ends.
import { $, el } from "../../shared/dom.js";
import { form } from "./kit.js";

const MIN = 10; // the service's password policy

let card = null;

// Shows the card (built once) in place of the sign-in form; done: the line that says it worked.
export function openReset(ctx, done) {
  if (!card) card = build(ctx, done);
  card.inputs.username.value = $("username").value;
  done.textContent = "";
  card.toggle(true);
}

function build(ctx, done) {
  const f = form(ctx, {
    submit: "设置新密码",
    cls: "card",
    extra: [el("button", { type: "button", class: "secondary", onclick: () => toggle(false) }, "返回登录")],
    fields: [
      el("h1", { id: "reset-h" }, "用重置码设置新密码"),
      { name: "username", label: "用户名", required: true, autocomplete: "username" },
      { name: "code", label: "重置码", required: true, maxlength: 64, autocomplete: "one-time-code", help: "由主管生成，15 分钟内有效，只能用一次" },
      { name: "new_password", label: "新密码", type: "password", required: true, minlength: MIN, autocomplete: "new-password", help: "至少 " + MIN + " 个字符" },
      { name: "again", label: "再次输入新密码", type: "password", required: true, autocomplete: "new-password" },
    ],
    onSubmit: async (v) => {
      if (v.new_password !== v.again) throw "两次输入的密码不一致";
      await ctx.api.post("/api/v1/auth/reset", { username: v.username, code: v.code.replace(/\s+/g, ""), new_password: v.new_password });
      $("username").value = v.username;
      $("password").value = "";
      f.el.reset();
      toggle(false);
      done.textContent = "密码已设置，请用新密码登录";
    },
  });
  f.el.id = "reset-form";
  f.el.setAttribute("aria-labelledby", "reset-h");
  function toggle(on) {
    f.el.hidden = !on;
    $("login-form").hidden = on;
    f.clear();
    (on ? f.inputs.username : $("username")).focus();
  }
  $("login").append(f.el);
  return Object.assign(f, { toggle });
}
