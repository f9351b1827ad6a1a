// Tailwind CSS v4 through PostCSS, which Next.js 16 (Turbopack and webpack) runs for every imported CSS file.
const config = { plugins: { "@tailwindcss/postcss": {} } };

export default config;
