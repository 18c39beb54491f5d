import { redirect } from 'next/navigation';

// The app is the admin console; its home is the dashboard (which redirects to sign-in when needed).
export default function Home() {
  redirect('/admin');
}
